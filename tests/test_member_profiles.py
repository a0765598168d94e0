import pytest
from django.core.exceptions import ValidationError

from members.models import MemberProfile
from tests.factories import make_profile


@pytest.mark.parametrize("slug", ["admin", "api", "registry", "me"])
def test_it_refuses_reserved_slugs(db: None, slug: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        make_profile(slug)


@pytest.mark.parametrize("slug", ["Bidcliq", "-x", "x-", "has space", "a" * 65, ""])
def test_it_refuses_malformed_slugs(db: None, slug: str) -> None:
    with pytest.raises(ValidationError, match="lower-case letters"):
        make_profile(slug) if slug else MemberProfile.objects.create(slug="", display_name="x")
    assert not MemberProfile.objects.exists()


def test_it_accepts_ordinary_slugs(db: None) -> None:
    assert make_profile("bid-cliq-2").slug == "bid-cliq-2"
