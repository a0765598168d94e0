"""Every probe remembered: the history's rows, liveness from them, availability events."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import Notice
from crawler.liveness import percentile, transition, uptime
from crawler.models import ProbeRecord
from crawler.policy import apply_probe_results
from probe import ProbeResult
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, register


def _probe(agent: Agent, when: object, *, answers: bool, elapsed: float = 0.2) -> None:
    result = (
        ProbeResult(agent.url, "mcp", tool_names=["get_products"], elapsed=elapsed, transport="streamable_http")
        if answers
        else ProbeResult(agent.url, "mcp", error_kind="connect", error_message="refused", elapsed=elapsed)
    )
    apply_probe_results([(agent.pk, result)], now=when)  # type: ignore[arg-type]  # a datetime


@pytest.fixture
def agent(db: None) -> Agent:
    agent = make_agent("https://flaky.example.com/mcp")
    register(make_profile("flaky"), agent, "sales")
    return agent


def test_an_agent_that_stops_answering_goes_offline_once_and_comes_back_once(agent: Agent) -> None:
    start = timezone.now() - timedelta(hours=6)
    pattern = [True, True, False, False, False, True]
    for hour, answers in enumerate(pattern):
        _probe(agent, start + timedelta(hours=hour), answers=answers)
    snapshot = CapabilitySnapshot.objects.get(agent=agent)
    assert ProbeRecord.objects.filter(agent=agent).count() == 6
    assert (snapshot.uptime_7d, snapshot.failure_streak) == (0.5, 0)  # 3 of 6 answered
    assert snapshot.last_ok_at == start + timedelta(hours=5)
    kinds = list(Notice.objects.filter(kind__in=["went_offline", "back_online"]).values_list("kind", flat=True))
    assert kinds == ["went_offline", "back_online"]


def test_an_agent_that_never_answered_does_not_go_offline(agent: Agent) -> None:
    for hour in range(5):
        _probe(agent, timezone.now() + timedelta(hours=hour), answers=False)
    assert CapabilitySnapshot.objects.get(agent=agent).failure_streak == 5
    assert not Notice.objects.filter(kind="went_offline").exists()


@pytest.mark.parametrize(
    "streak, ever_answered, answered, event",
    [
        (0, True, False, ""),
        (1, True, False, ""),
        (2, True, False, "went_offline"),
        (3, True, False, ""),  # once
        (3, True, True, "back_online"),
        (2, True, True, ""),  # never was offline
        (2, False, False, ""),  # never answered: never online
    ],
)
def test_availability_transitions_follow_the_table(
    streak: int, ever_answered: bool, answered: bool, event: str
) -> None:
    assert transition(streak, ever_answered, answered) == event


def test_percentiles_and_uptime_are_what_they_say() -> None:
    assert percentile([], 0.5) is None
    assert percentile([30, 10, 20], 0.5) == 20
    assert percentile(list(range(1, 101)), 0.95) == 95
    now = timezone.now()
    probes = [(now, "ok", 10), (now, "timeout", 0), (now, "auth_required", 5), (now - timedelta(days=9), "ok", 9)]
    assert uptime(probes, now - timedelta(days=7)) == round(2 / 3, 4)  # a login wall answered
    assert uptime([], now) is None


def test_the_detail_endpoint_gives_liveness_at_a_constant_cost(agent: Agent, client: Client) -> None:
    now = timezone.now()
    path = f"/api/registry/agents/{quote(agent.url, safe='')}"
    _probe(agent, now - timedelta(hours=1), answers=True, elapsed=0.1)
    client.get(path)  # what every request caches once
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    ProbeRecord.objects.bulk_create(
        ProbeRecord(agent=agent, probed_at=now - timedelta(hours=h), outcome="ok", latency_ms=100)
        for h in range(2, 700)
    )
    with CaptureQueriesContext(connection) as many:
        document = client.get(path).json()
    assert len(few) == len(many) <= 3
    liveness = document["liveness"]
    assert document["url"] == agent.url and liveness["uptime_30d"] == 1.0 and liveness["failure_streak"] == 0
    assert liveness["latency_p50_ms"] == 100 and len(liveness["daily"]) == 30
    assert sum(day["probes"] for day in liveness["daily"]) >= 690


def test_the_list_carries_uptime_and_latency(agent: Agent, client: Client) -> None:
    _probe(agent, timezone.now(), answers=True, elapsed=0.25)
    [listed] = client.get("/api/registry/agents").json()["results"]
    assert (listed["uptime_7d"], listed["latency_p50_ms"]) == (1.0, 250)


def test_an_unknown_or_private_agent_has_no_detail(agent: Agent, client: Client) -> None:
    assert client.get(f"/api/registry/agents/{quote('https://nobody.example.com/mcp', safe='')}").status_code == 404
    agent.registration.profile.is_public = False
    agent.registration.profile.save()
    assert client.get(f"/api/registry/agents/{quote(agent.url, safe='')}").status_code == 404


def test_a_days_rollup_matches_its_raw_rows_and_pruning_keeps_the_rollup(agent: Agent) -> None:
    from datetime import UTC, datetime

    from crawler.liveness import prune, roll_up
    from crawler.models import ProbeDay

    now = timezone.now()
    old_day = (now - timedelta(days=40)).date()
    start = datetime.combine(old_day, datetime.min.time(), tzinfo=UTC)
    outcomes = ["ok", "ok", "timeout", "ok", "auth_required", "connect"]
    ProbeRecord.objects.bulk_create(
        ProbeRecord(agent=agent, probed_at=start + timedelta(hours=i), outcome=o, latency_ms=100 * (i + 1))
        for i, o in enumerate(outcomes)
    )
    _probe(agent, now, answers=True)  # a recent row pruning must keep
    assert roll_up(old_day) == 1
    day = ProbeDay.objects.get(agent=agent, day=old_day)
    # Answered: ok at 100, 200, 400 ms and the login wall at 500 ms.
    assert (day.probes, day.ok, day.latency_p50_ms, day.latency_p95_ms) == (6, 4, 200, 500)
    assert prune(now) == (6, 0)
    assert prune(now) == (0, 0)  # converged
    assert ProbeRecord.objects.filter(agent=agent).count() == 1
    assert ProbeDay.objects.get(agent=agent, day=old_day).probes == 6  # rolled up again, the same
