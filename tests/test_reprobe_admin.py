"""The admin's "Reprobe selected agents…": probe in a job, review, apply without probing again."""

import time
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from audit.models import TypeReclassification
from crawler.models import ReprobeRun
from registry.models import Agent
from tests.factories import make_agent, make_snapshot, make_staff
from tests.servers import COUNTED_HITS

CHANGELIST = "admin:registry_agent_changelist"


@pytest.fixture
def reviewer(client: Client, transactional_db: None) -> Client:
    client.force_login(
        make_staff(
            "rita", superuser=False, permissions=("view_agent", "change_agent", "view_reproberun", "reprobe_agents")
        )
    )
    return client


@pytest.fixture
def counted_agent(transactional_db: None, hostile: str) -> Agent:
    agent = make_agent(f"{hostile}/counted")
    make_snapshot(agent, None, ["ping"])
    return agent


def _start(client: Client, agent: Agent) -> ReprobeRun:
    with override_settings(REDIS_URL=""):  # the project's background thread probes
        response = client.post(reverse(CHANGELIST), {"action": "reprobe_selected", "_selected_action": [agent.pk]})
    run = ReprobeRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:crawler_reproberun_change", args=[run.pk]
    )
    return _probed(run)


def _probed(run: ReprobeRun, within: float = 30.0) -> ReprobeRun:
    """The run once its probes are done, as the refreshing run page waits for it."""
    give_up = time.monotonic() + within
    while run.status == ReprobeRun.Status.PROBING and time.monotonic() < give_up:
        time.sleep(0.1)
        run.refresh_from_db()
    assert run.status != ReprobeRun.Status.PROBING, "the reprobe never finished"
    return run


def test_the_plan_is_shown_and_applied_without_a_second_probe(reviewer: Client, counted_agent: Agent) -> None:
    COUNTED_HITS.clear()
    run = _start(reviewer, counted_agent)
    # a handshake-only server: the modern discover (refused) raced with the handshake
    probe_requests = sorted(COUNTED_HITS)
    assert probe_requests == ["initialize", "notifications/initialized", "server/discover", "tools/list"]
    page = reviewer.get(reverse("admin:crawler_reproberun_change", args=[run.pk])).content.decode()
    assert "Ready for review" in page and counted_agent.url in page and "promoted" in page
    assert Agent.objects.get(pk=counted_agent.pk).type == "unknown"  # nothing written yet

    response = reviewer.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_apply": "1"}, follow=True)
    assert "1 promoted" in response.content.decode()
    assert sorted(COUNTED_HITS) == probe_requests  # no second probe
    assert Agent.objects.get(pk=counted_agent.pk).type == "sales"
    row = TypeReclassification.objects.get(source="reprobe")
    run.refresh_from_db()
    assert (run.status, run.decided_by, run.run_id, row.actor) == ("applied", "rita", row.run_id, "rita")

    again = reviewer.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_apply": "1"}, follow=True)
    assert "nothing to apply" in again.content.decode()
    assert TypeReclassification.objects.filter(source="reprobe").count() == 1


def test_a_stale_row_is_announced_and_skipped(reviewer: Client, counted_agent: Agent) -> None:
    run = _start(reviewer, counted_agent)
    Agent.objects.filter(pk=counted_agent.pk).update(type="creative")
    page = reviewer.get(reverse("admin:crawler_reproberun_change", args=[run.pk])).content.decode()
    assert "1 planned row changed since the probe" in page
    reviewer.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_apply": "1"})
    assert Agent.objects.get(pk=counted_agent.pk).type == "creative"


def test_an_old_plan_cannot_be_applied(reviewer: Client, counted_agent: Agent) -> None:
    run = _start(reviewer, counted_agent)
    ReprobeRun.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(hours=2))
    page = reviewer.get(reverse("admin:crawler_reproberun_change", args=[run.pk])).content.decode()
    assert "older than allowed" in page and 'name="_apply"' not in page
    response = reviewer.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_apply": "1"}, follow=True)
    assert "too old to apply; reprobe again" in response.content.decode()
    assert Agent.objects.get(pk=counted_agent.pk).type == "unknown"


def test_discarding_writes_nothing(reviewer: Client, counted_agent: Agent) -> None:
    run = _start(reviewer, counted_agent)
    reviewer.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_discard": "1"})
    run.refresh_from_db()
    assert run.status == "discarded"
    assert Agent.objects.get(pk=counted_agent.pk).type == "unknown"
    assert not TypeReclassification.objects.exists()


def test_staff_without_the_permission_can_neither_start_nor_apply(client: Client, counted_agent: Agent) -> None:
    client.force_login(
        make_staff("vic", superuser=False, permissions=("view_agent", "change_agent", "view_reproberun"))
    )
    assert "reprobe_selected" not in client.get(reverse(CHANGELIST)).content.decode()
    client.post(reverse(CHANGELIST), {"action": "reprobe_selected", "_selected_action": [counted_agent.pk]})
    assert not ReprobeRun.objects.exists()
    run = ReprobeRun.objects.create(created_by="x", agent_ids=[counted_agent.pk], status="ready", plan={"entries": []})
    assert client.post(reverse("admin:crawler_reproberun_change", args=[run.pk]), {"_apply": "1"}).status_code == 403


def test_a_dead_redis_is_reported_not_a_500(reviewer: Client, counted_agent: Agent) -> None:
    queues = {"crawl": {"URL": "redis://127.0.0.1:1/0"}, "default": {"URL": "redis://127.0.0.1:1/0"}}
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", RQ_QUEUES=queues):
        response = reviewer.post(
            reverse(CHANGELIST), {"action": "reprobe_selected", "_selected_action": [counted_agent.pk]}, follow=True
        )
    assert response.status_code == 200
    assert "Could not start the reprobe" in response.content.decode()
    assert ReprobeRun.objects.get().status == "failed"


@override_settings(REDIS_URL="", AGENT_REPROBE_TIMEOUT=10.0)
def test_a_reprobe_never_holds_the_request_and_its_page_reports_the_silent_agent(
    reviewer: Client, hostile: str
) -> None:
    silent = make_agent(f"{hostile}/never")
    began = time.monotonic()
    response = reviewer.post(reverse(CHANGELIST), {"action": "reprobe_selected", "_selected_action": [silent.pk]})
    assert time.monotonic() - began < 1.0  # the probe's 10 s are the background thread's
    page_url = response["Location"]
    first = reviewer.get(page_url).content.decode()
    assert "Probing" in first and "Probed 0 of 1" in first and 'http-equiv="refresh"' in first
    give_up = time.monotonic() + 30
    while "Ready for review" not in (page := reviewer.get(page_url).content.decode()):
        assert time.monotonic() < give_up, "the run page never reported the reprobe done"
        time.sleep(0.5)
    timed_out = page[page.index('id="reprobe-timed-out"') :]
    assert timed_out.startswith('id="reprobe-timed-out">1<br>' + silent.url)
    assert 'http-equiv="refresh"' not in page
