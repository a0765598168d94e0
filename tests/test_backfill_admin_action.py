import pytest
from django.test import Client
from django.urls import reverse

from audit.models import TypeReclassification
from members.models import MemberProfile
from registry.models import Agent
from tests.backfill_fixtures import published, upstream_story
from tests.factories import make_staff

CHANGELIST = "admin:members_memberprofile_changelist"


def _select_all(extra: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "action": "backfill_agent_types",
        "_selected_action": list(MemberProfile.objects.values_list("pk", flat=True)),
        **(extra or {}),
    }


@pytest.fixture
def reviewer(client: Client, db: None) -> Client:
    client.force_login(
        make_staff(
            "rita", superuser=False, permissions=("view_memberprofile", "change_memberprofile", "backfill_agent_types")
        )
    )
    return client


def test_the_first_post_shows_the_plan_and_writes_nothing(reviewer: Client) -> None:
    upstream_story()
    before = published()
    response = reviewer.post(reverse(CHANGELIST), _select_all())
    page = response.content.decode()
    assert response.status_code == 200
    assert "would change the published type of <strong>2 agents</strong>" in page
    assert "https://bidcliq.example.com/mcp" in page and "https://swivel.example.com/mcp" in page
    assert "https://northwind.example.com/mcp" not in page
    assert published() == before
    assert not TypeReclassification.objects.filter(source="backfill_script").exists()


def test_the_second_post_applies_with_the_staff_member_as_actor(reviewer: Client) -> None:
    upstream_story()
    keys = [
        f"{a.pk}:buying:sales"
        for a in Agent.objects.filter(url__contains="bidcliq") | Agent.objects.filter(url__contains="swivel")
    ]
    response = reviewer.post(reverse(CHANGELIST), _select_all({"post": "yes", "change": keys}), follow=True)
    rows = TypeReclassification.objects.filter(source="backfill_script")
    assert {(r.member, r.actor) for r in rows} == {("bidcliq", "rita"), ("swivel", "rita")}
    [run_id] = {r.run_id for r in rows}
    assert f"2 agents reclassified (run {run_id}), 0 stale skipped, 0 left out." in response.content.decode()


def test_a_change_that_went_stale_after_the_preview_is_skipped(reviewer: Client) -> None:
    upstream_story()
    swivel = Agent.objects.get(url__contains="swivel")
    bidcliq = Agent.objects.get(url__contains="bidcliq")
    Agent.objects.filter(pk=swivel.pk).update(type="creative")  # changed after the preview
    keys = [f"{bidcliq.pk}:buying:sales", f"{swivel.pk}:buying:sales"]
    response = reviewer.post(reverse(CHANGELIST), _select_all({"post": "yes", "change": keys}), follow=True)
    assert "1 agent reclassified" in response.content.decode() and "1 stale skipped" in response.content.decode()
    assert published()[swivel.url] == "creative"


def test_a_forged_change_is_not_applied(reviewer: Client) -> None:
    upstream_story()
    northwind = Agent.objects.get(url__contains="northwind")
    reviewer.post(reverse(CHANGELIST), _select_all({"post": "yes", "change": [f"{northwind.pk}:sales:buying"]}))
    assert published()[northwind.url] == "sales"
    assert not TypeReclassification.objects.filter(source="backfill_script").exists()


def test_an_empty_plan_says_so(reviewer: Client) -> None:
    from tests.backfill_fixtures import frozen

    frozen("northwind", "sales", "sales")
    response = reviewer.post(reverse(CHANGELIST), _select_all(), follow=True)
    assert "Nothing to backfill" in response.content.decode()


def test_staff_without_the_permission_do_not_see_or_run_it(client: Client, db: None) -> None:
    upstream_story()
    client.force_login(
        make_staff("viewer", superuser=False, permissions=("view_memberprofile", "change_memberprofile"))
    )
    assert "backfill_agent_types" not in client.get(reverse(CHANGELIST)).content.decode()
    keys = [f"{a.pk}:buying:sales" for a in Agent.objects.all()]
    client.post(reverse(CHANGELIST), _select_all({"post": "yes", "change": keys}))
    assert not TypeReclassification.objects.filter(source="backfill_script").exists()
