"""Integrity against members and careless staff: clean errors, permissions, no leaks."""

from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from rest_framework.test import APIClient

from members.models import validate_member_slug
from registry.models import Agent
from tests.factories import make_agent, make_profile, make_staff, register


@pytest.mark.parametrize(
    "url",
    [
        "/registry/?q=%00",
        "/api/registry/agents?q=%00",
        "/api/registry/agents?member=%00",
        "/api/me/member-profile?profile=%00",
        "/admin/registry/agent/?member=%00",
        "/registry/?q=a%1Fb",
        "/registry/?%00=x",
    ],
)
def test_control_characters_in_query_parameters_are_a_400(db: None, url: str) -> None:
    client = Client()
    client.force_login(make_staff())
    response = client.get(url)
    assert response.status_code == 400
    assert "control characters" in response.getvalue().decode()


def test_ordinary_query_parameters_still_pass(db: None, client: Client) -> None:
    assert client.get("/registry/?q=caf%C3%A9%09x").status_code == 200


@pytest.mark.parametrize("slug", ["admin\n", "acme\n", "acme\r", " acme"])
def test_a_slug_with_a_trailing_newline_is_refused(slug: str) -> None:
    with pytest.raises(ValidationError):
        validate_member_slug(slug)


@pytest.mark.parametrize("public, status", [(True, 403), (False, 404)])
def test_refresh_does_not_reveal_a_private_agent(db: None, public: bool, status: int) -> None:
    agent = make_agent("https://private.example.com/mcp")
    register(make_profile(is_public=public), agent, "sales")
    client = APIClient()
    client.force_authenticate(User.objects.create_user("eve"))
    response = client.post(f"/api/registry/agents/{quote(agent.url, safe='')}/refresh")
    assert response.status_code == status
    unregistered = client.post(f"/api/registry/agents/{quote('https://nobody.example.com/mcp', safe='')}/refresh")
    assert unregistered.status_code == 404


@pytest.mark.parametrize("permissions, status", [((), 403), (("manage_job_queue",), 200)])
def test_the_job_queue_needs_its_own_permission(db: None, permissions: tuple[str, ...], status: int) -> None:
    client = Client()
    client.force_login(make_staff("jo", superuser=False, permissions=permissions))
    assert client.get("/admin/django-rq/").status_code == status
    anonymous = Client().get("/admin/django-rq/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


@pytest.mark.parametrize("permissions, status", [((), 403), (("view_agent",), 200)])
def test_the_dashboard_needs_view_agent(db: None, permissions: tuple[str, ...], status: int) -> None:
    client = Client()
    client.force_login(make_staff("dee", superuser=False, permissions=permissions))
    assert client.get("/admin/dashboard/").status_code == status


def test_staff_cannot_repoint_an_agent_to_another_url(db: None) -> None:
    agent = make_agent("https://agent.example.com/mcp", name="Agent")
    client = Client()
    client.force_login(make_staff("carla", superuser=False, permissions=("change_agent", "view_agent")))
    page = client.get(f"/admin/registry/agent/{agent.pk}/change/").getvalue().decode()
    assert 'name="url"' not in page  # shown, not editable
    client.post(
        f"/admin/registry/agent/{agent.pk}/change/",
        {"url": "https://elsewhere.example.com/mcp", "name": "Renamed", "protocol": "mcp",
         "snapshot-TOTAL_FORMS": "0", "snapshot-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert Agent.objects.values_list("url", "name").get(pk=agent.pk) == ("https://agent.example.com/mcp", "Renamed")


def _member_client(slug: str) -> APIClient:
    owner = User.objects.create_user(f"{slug}-owner")
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post("/api/me/member-profile", {"slug": slug, "display_name": slug.title()}, format="json")
    assert response.status_code == 201, response.content
    return client


def _put(client: APIClient, slug: str, urls: list[str]) -> Any:
    agents = [{"url": url, "declared_type": "sales"} for url in urls]
    return client.put(
        f"/api/me/member-profile?profile={slug}",
        {"slug": slug, "display_name": slug.title(), "agents": agents},
        format="json",
    )


@override_settings(MEMBER_MAX_AGENTS_PER_REQUEST=3)
def test_one_write_registers_at_most_the_request_quota(db: None) -> None:
    client = _member_client("acme")
    response = _put(client, "acme", [f"https://a{i}.example.com/mcp" for i in range(4)])
    assert response.status_code == 400 and "At most 3 agents in one request" in str(response.json())
    assert not Agent.objects.exists()


@override_settings(MEMBER_MAX_AGENTS_PER_PROFILE=3)
def test_a_profile_registers_at_most_the_profile_quota(db: None) -> None:
    client = _member_client("acme")
    assert _put(client, "acme", [f"https://a{i}.example.com/mcp" for i in range(3)]).status_code == 200
    more = _put(client, "acme", [f"https://a{i}.example.com/mcp" for i in range(4)])
    assert more.status_code == 400 and "at most 3 agents" in str(more.json())
    # re-sending the same three is not growth
    assert _put(client, "acme", [f"https://a{i}.example.com/mcp" for i in range(3)]).status_code == 200


@override_settings(MEMBER_MAX_AGENTS_PER_HOST=2)
def test_all_members_together_register_at_most_the_host_quota_unless_staff_raise_it(db: None) -> None:
    from members.models import HostQuota

    first, second = _member_client("acme"), _member_client("rival")
    assert _put(first, "acme", ["https://shared.example.com/a", "http://shared.example.com:8080/b"]).status_code == 200
    refused = _put(second, "rival", ["https://shared.example.com/c"])
    assert refused.status_code == 400 and "At most 2 agents may be registered on shared.example.com" in str(
        refused.json()
    )
    assert _put(second, "rival", ["https://other.example.com/c"]).status_code == 200
    HostQuota.objects.create(host="shared.example.com", max_agents=3, reason="a hosting platform")
    assert _put(second, "rival", ["https://shared.example.com/c"]).status_code == 200


def test_profile_writes_are_rate_limited_per_user(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import cache

    from members.api import ProfileWriteThrottle

    monkeypatch.setattr(ProfileWriteThrottle, "rate", "2/hour", raising=False)  # the setting is read at import
    cache.clear()
    client = _member_client("acme")  # one write
    assert _put(client, "acme", []).status_code == 200  # two
    limited = _put(client, "acme", [])
    assert limited.status_code == 429 and "Retry-After" in limited
    assert client.get("/api/me/member-profile?profile=acme").status_code == 200  # reads are not counted
    cache.clear()


def test_an_unregistered_agent_leaves_the_crawl_and_its_name_goes_to_the_next_registrant(db: None) -> None:
    from django.utils import timezone

    from crawler.selection import due_for_crawl

    first = _member_client("acme")
    first.put(
        "/api/me/member-profile?profile=acme",
        {
            "slug": "acme",
            "display_name": "Acme",
            "agents": [
                {
                    "url": "https://agent.example.com/mcp",
                    "declared_type": "sales",
                    "display_name": "Official ACME agent",
                }
            ],
        },
        format="json",
    )
    agent = Agent.objects.get(url="https://agent.example.com/mcp")
    assert agent.name == "Official ACME agent" and agent in due_for_crawl(timezone.now())
    assert _put(first, "acme", []).status_code == 200
    agent.refresh_from_db()
    assert (agent.name, agent.type) == ("", "unknown") and agent not in due_for_crawl(timezone.now())
    second = _member_client("rival")
    second.put(
        "/api/me/member-profile?profile=rival",
        {
            "slug": "rival",
            "display_name": "Rival",
            "agents": [
                {"url": "https://agent.example.com/mcp", "declared_type": "signals", "display_name": "Rival agent"}
            ],
        },
        format="json",
    )
    agent.refresh_from_db()
    assert (agent.name, agent.unregistered_at) == ("Rival agent", None) and agent in due_for_crawl(timezone.now())


def _sign_in(client: Client, username: str, password: str, address: str = "203.0.113.7") -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_failed_admin_sign_ins_lock_the_user_name_out_until_lifted(db: None) -> None:
    from django.core.management import call_command

    make_staff("rita")  # password "pw"
    client = Client()
    for _ in range(4):
        assert _sign_in(client, "rita", "guess").status_code == 200  # the form again, with its error
    assert _sign_in(client, "rita", "guess").status_code == 429  # the fifth failure locks
    locked = _sign_in(client, "rita", "pw", address="198.51.100.9")  # right password, another address
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.getvalue().decode()
    call_command("axes_reset_username", "rita", verbosity=0)
    assert _sign_in(client, "rita", "pw").status_code == 302


def test_failed_sign_ins_from_one_address_lock_it_out(db: None) -> None:
    make_staff("rita")
    client = Client()
    for name in ["a", "b", "c", "d", "e"]:
        _sign_in(client, name, "guess", address="192.0.2.50")
    assert _sign_in(client, "rita", "pw", address="192.0.2.50").status_code == 429
    assert _sign_in(client, "rita", "pw", address="192.0.2.51").status_code == 302


def test_an_api_token_does_not_open_the_admin(db: None) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=make_staff("tok"))
    response = Client().get("/admin/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
