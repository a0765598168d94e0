"""Disagreement review: adopt the inferred type or keep the published one, diff first."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import Source, TypeEvent, TypeReclassification, record_many
from crawler.models import ProbeRecord
from crawler.policy import apply_probe_results
from members.backfill import plan_backfill
from members.models import MemberAgent
from probe import ProbeResult
from registry.models import Agent
from tests.backfill_fixtures import frozen
from tests.factories import make_staff

CHANGELIST = reverse("admin:registry_disagreement_changelist")


@pytest.fixture
def story(db: None) -> dict[str, Agent]:
    """Bidcliq and Swivel registered as buying; the crawler saw sales tools."""
    agents = {}
    for slug in ("bidcliq", "swivel"):
        member_agent = frozen(slug, "buying", None)
        agent = member_agent.agent
        apply_probe_results([(agent.pk, ProbeResult(agent.url, "mcp", tool_names=["get_products", "ping"]))])
        agents[slug] = Agent.objects.get(pk=agent.pk)
    frozen("northwind", "sales", "sales")
    return agents


def reviewer_client(client: Client, *, can_review: bool = True) -> Client:
    perms = ("view_disagreement", "view_agent") + (("review_disagreements",) if can_review else ())
    client.force_login(make_staff("rita" if can_review else "vic", superuser=False, permissions=perms))
    return client


def _select(agents: list[Agent], action: str, **extra: object) -> dict[str, object]:
    return {"action": action, "_selected_action": [a.pk for a in agents], **extra}


def test_the_list_shows_open_disagreements_with_their_evidence(client: Client, story: dict[str, Agent]) -> None:
    page = reviewer_client(client).get(CHANGELIST).content.decode()
    assert "https://bidcliq.example.com/mcp" in page and "https://swivel.example.com/mcp" in page
    assert "https://northwind.example.com/mcp" not in page
    assert "<code>get_products</code>" in page and "<code>ping</code>" not in page


def test_adopt_shows_the_diff_then_applies_with_the_note(client: Client, story: dict[str, Agent]) -> None:
    client = reviewer_client(client)
    bidcliq = story["bidcliq"]
    first = client.post(CHANGELIST, _select([bidcliq], "adopt_inferred_type"))
    assert "Nothing has been written yet" in first.content.decode()
    assert f'href="{CHANGELIST}">Open disagreements</a>' in first.content.decode()  # breadcrumbs back to the list
    assert Agent.objects.get(pk=bidcliq.pk).type == "buying"
    assert not TypeReclassification.objects.filter(source="admin_review").exists()

    second = client.post(
        CHANGELIST,
        _select(
            [bidcliq],
            "adopt_inferred_type",
            post="yes",
            change=[f"{bidcliq.pk}:buying:sales"],
            note="confirmed with Bidcliq",
        ),
        follow=True,
    )
    assert "1 agent reclassified" in second.content.decode()
    assert Agent.objects.get(pk=bidcliq.pk).type == "sales"
    row = TypeReclassification.objects.get(source="admin_review")
    assert (row.old_type, row.new_type, row.actor, row.notes["note"], row.notes["decision"]) == (
        "buying",
        "sales",
        "rita",
        "confirmed with Bidcliq",
        "adopt_inferred",
    )
    assert "https://bidcliq.example.com/mcp" not in client.get(CHANGELIST).content.decode()


def test_adopting_a_row_that_changed_meanwhile_skips_it(client: Client, story: dict[str, Agent]) -> None:
    client = reviewer_client(client)
    swivel = story["swivel"]
    Agent.objects.filter(pk=swivel.pk).update(type="creative")
    response = client.post(
        CHANGELIST,
        _select([swivel], "adopt_inferred_type", post="yes", change=[f"{swivel.pk}:buying:sales"]),
        follow=True,
    )
    assert "0 agents reclassified" in response.content.decode() and "1 stale skipped" in response.content.decode()
    assert Agent.objects.get(pk=swivel.pk).type == "creative"


def test_keep_binds_member_saves_and_the_backfill_until_the_inference_changes(
    client: Client, story: dict[str, Agent]
) -> None:
    client = reviewer_client(client)
    swivel = story["swivel"]
    client.post(
        CHANGELIST,
        _select([swivel], "keep_published_type", post="yes", change=[f"{swivel.pk}:buying:sales"], note="really buys"),
    )
    row = TypeReclassification.objects.get(source="admin_review")
    assert (row.old_type, row.new_type, row.notes["decision"], row.notes["note"]) == (
        "buying",
        "buying",
        "keep_published",
        "really buys",
    )
    assert "https://swivel.example.com/mcp" not in client.get(CHANGELIST).content.decode()

    plan = plan_backfill()
    assert [c.member for c in plan.changes] == ["bidcliq"]
    assert [c.member for c in plan.kept_by_review] == ["swivel"]
    MemberAgent.objects.get(agent=swivel).save(actor="swivel-admin")
    assert Agent.objects.get(pk=swivel.pk).type == "buying"

    # The probe now infers something else: the decision lapses, the disagreement reopens.
    apply_probe_results([(swivel.pk, ProbeResult(swivel.url, "mcp", tool_names=["build_creative"]))])
    assert "https://swivel.example.com/mcp" in client.get(CHANGELIST).content.decode()
    assert [c.new_type for c in plan_backfill().changes if c.member == "swivel"] == ["creative"]


def test_view_only_staff_can_see_but_not_act(client: Client, story: dict[str, Agent]) -> None:
    client = reviewer_client(client, can_review=False)
    page = client.get(CHANGELIST).content.decode()
    assert "https://bidcliq.example.com/mcp" in page
    assert "adopt_inferred_type" not in page
    bidcliq = story["bidcliq"]
    client.post(
        CHANGELIST, _select([bidcliq], "adopt_inferred_type", post="yes", change=[f"{bidcliq.pk}:buying:sales"])
    )
    assert Agent.objects.get(pk=bidcliq.pk).type == "buying"


def _history(agent: Agent, rows: int) -> None:
    events = [
        TypeEvent(agent_url=agent.url, new_type="sales", old_type="buying", source=Source.CRAWLER_DISAGREEMENT)
        for _ in range(rows)
    ]
    with transaction.atomic():
        record_many(events)


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_review_page_and_the_agent_page_cost_the_same_however_long_the_history(
    story: dict[str, Agent], client: Client
) -> None:
    reviewer = reviewer_client(client)
    bidcliq = story["bidcliq"]
    pages = [
        reverse("admin:registry_disagreement_change", args=[bidcliq.pk]),
        reverse("admin:registry_agent_change", args=[bidcliq.pk]),
    ]
    for page in pages:  # warm what every page caches once (content types)
        reviewer.get(page)
    before = [_queries(reviewer, page) for page in pages]
    assert before == [10, 13]  # pinned: the review page, the agent's page (with its probe history)
    _history(bidcliq, 10_000)
    ProbeRecord.objects.bulk_create(
        ProbeRecord(agent=bidcliq, probed_at=timezone.now() - timedelta(hours=h), outcome="ok", latency_ms=90)
        for h in range(1, 700)
    )
    assert [_queries(reviewer, page) for page in pages] == before
    page = reviewer.get(pages[0]).content.decode()
    assert page.count("probe says sales; published stays buying; not applied") == 20  # the newest only
    assert "All type events of this agent" in page


def test_the_review_page_leads_to_the_next_disagreement_and_back(story: dict[str, Agent], client: Client) -> None:
    reviewer = reviewer_client(client)
    first, second = story["bidcliq"], story["swivel"]
    page = reviewer.get(reverse("admin:registry_disagreement_change", args=[first.pk])).content.decode()
    assert reverse("admin:registry_disagreement_change", args=[second.pk]) in page and "1 of 2" in page
    assert "advertises get_products: a sales agent" in page
    back = reviewer.get(reverse("admin:registry_disagreement_change", args=[second.pk])).content.decode()
    assert reverse("admin:registry_disagreement_change", args=[first.pk]) in back and "2 of 2" in back


def test_view_only_staff_see_the_evidence_but_no_decision(story: dict[str, Agent], client: Client) -> None:
    viewer = reviewer_client(client, can_review=False)
    page = viewer.get(reverse("admin:registry_disagreement_change", args=[story["bidcliq"].pk])).content.decode()
    assert "type-history" in page and 'id="adopt"' not in page and 'id="keep"' not in page


def test_a_decision_from_the_review_page_goes_on_to_the_page_it_names_on_this_site_only(
    story: dict[str, Agent], client: Client
) -> None:
    reviewer = reviewer_client(client)
    swivel = story["swivel"]
    onward = reverse("admin:registry_disagreement_change", args=[story["bidcliq"].pk])
    body = _select([swivel], "keep_published_type", post="yes", change=[f"{swivel.pk}:buying:sales"])
    assert reviewer.post(CHANGELIST, {**body, "next": onward})["Location"] == onward
    elsewhere = _select([story["bidcliq"]], "keep_published_type", post="yes", change=[])
    assert reviewer.post(CHANGELIST, {**elsewhere, "next": "https://evil.example/"})["Location"] != (
        "https://evil.example/"
    )
