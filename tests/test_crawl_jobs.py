"""Crawls end to end: the demo fleet on 127.0.0.1, the command, and real RQ workers."""

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from redis import Redis

from audit.models import TypeReclassification
from crawler import jobs
from crawler.selection import due_for_crawl, not_due
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def demo_registry(db: None, demo_fleet: str) -> str:
    call_command("seed_demo", fleet_url=demo_fleet, verbosity=0)
    call_command("seed_demo_credentials", fleet_url=demo_fleet, verbosity=0)
    return demo_fleet


def _types() -> dict[str, tuple[str, str | None]]:
    """Published and inferred type per demo member."""
    return {
        a.registration.profile.slug: (a.type, a.snapshot.inferred_type)
        for a in Agent.objects.select_related("snapshot", "registration__profile")
    }


def test_the_demo_crawl_tells_the_story(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("crawl_agents", sync=True, timeout=1.0)
    out = capsys.readouterr().out
    assert (
        "16 probed, 0 promoted, 2 new disagreements, 2 answered without a known tool, 0 need credentials, "
        "failed: timeout 1" in out
    )
    assert _types() == {
        "bidcliq": ("buying", "sales"),  # registered as buying, probed as sales: disagreement
        "swivel": ("buying", "sales"),
        "northwind": ("sales", "sales"),
        "meridian": ("sales", "sales"),
        "canvas": ("creative", "creative"),
        "audiencelab": ("signals", "signals"),
        "orbit": ("buying", None),  # a buy-side agent exposes no AdCP tool
        "quietco": ("sales", None),  # never erased by the crawler
        "lostsignal": ("signals", None),
        # the other dialects, each negotiated
        "lumen": ("sales", "sales"),  # MCP 2026-07-28 only
        "relay": ("signals", "signals"),  # legacy HTTP+SSE
        "harbor": ("creative", "creative"),  # registered at its bare origin, found at /mcp
        # AdCP 3 agents: the declaration decides
        "civic": ("governance", "governance"),
        "marque": ("brand", "brand"),
        "gauge": ("measurement", "measurement"),
        # behind a bearer token its owner saved
        "vault": ("sales", "sales"),
    }
    routes = dict(CapabilitySnapshot.objects.values_list("agent__registration__profile__slug", "transport"))
    assert (routes["lumen"], routes["relay"], routes["meridian"]) == ("streamable_http", "sse", "a2a")
    disagreements = TypeReclassification.objects.filter(source="crawler_disagreement")
    assert sorted(disagreements.values_list("member", flat=True)) == ["bidcliq", "swivel"]
    assert disagreements.values("run_id").distinct().count() == 1

    with override_settings(AGENT_CRAWL_MIN_INTERVAL=0):  # the next hour's crawl
        call_command("crawl_agents", sync=True, timeout=1.0)
    assert "16 probed" in capsys.readouterr().out
    assert TypeReclassification.objects.filter(source="crawler_disagreement").count() == 2


def test_it_crawls_only_the_given_urls(demo_registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("crawl_agents", sync=True, url=[f"{demo_registry.upper()}/canvas/mcp/"])
    assert "1 probed" in capsys.readouterr().out
    assert CapabilitySnapshot.objects.count() == 1


@pytest.mark.parametrize(
    "options, message",
    [
        ({"url": ["ftp://nope"]}, "scheme must be http or https"),
        (
            {"url": ["https://not-registered.example.com/mcp"]},
            "No agent registered at https://not-registered.example.com/mcp",
        ),
        ({"timeout": 0}, "--timeout must be a positive"),
        ({"timeout": float("inf")}, "--timeout must be a positive, finite number"),
        ({"timeout": 1e308}, "from 0.5 to 300"),
    ],
)
def test_it_refuses_bad_input(db: None, options: dict[str, object], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("crawl_agents", sync=True, **options)


def test_paused_and_terminal_and_backed_off_agents_are_not_due(db: None) -> None:
    now = timezone.now()
    due_known = make_agent(type="sales")
    new_agent = make_agent()
    paused = make_agent(type="sales", monitoring_paused=True)
    terminal = make_agent()
    CapabilitySnapshot.objects.create(agent=terminal, terminal_state="unreachable", unknown_attempts=10)
    waiting = make_agent()
    CapabilitySnapshot.objects.create(agent=waiting, unknown_attempts=2, next_probe_after=now + timedelta(days=1))
    ready = make_agent()
    CapabilitySnapshot.objects.create(agent=ready, unknown_attempts=2, next_probe_after=now - timedelta(minutes=1))
    known_with_snapshot = make_agent(type="buying")
    CapabilitySnapshot.objects.create(agent=known_with_snapshot)
    assert set(due_for_crawl(now)) == {due_known, new_agent, ready, known_with_snapshot}
    assert paused not in due_for_crawl(now) and terminal not in due_for_crawl(now) and waiting not in due_for_crawl(now)


@override_settings(AGENT_CRAWL_MIN_INTERVAL=0)
def test_agents_that_timed_out_last_time_are_probed_first(db: None) -> None:
    answered, never_probed, timed_out, refused = (make_agent(type="sales") for _ in range(4))
    CapabilitySnapshot.objects.create(agent=answered, inferred_type="sales", probed_at=timezone.now())
    CapabilitySnapshot.objects.create(agent=timed_out, error_kind="timeout", last_attempt_at=timezone.now())
    CapabilitySnapshot.objects.create(agent=refused, error_kind="connect", last_attempt_at=timezone.now())
    assert list(due_for_crawl(timezone.now())) == [timed_out, answered, never_probed, refused]


@override_settings(AGENT_CRAWL_MIN_INTERVAL=30 * 60)
def test_agents_attempted_within_the_minimum_interval_are_not_due_yet(db: None) -> None:
    now = timezone.now()
    just_probed, probed_last_hour, failed_just_now = (
        make_agent(type="sales"),
        make_agent(type="sales"),
        make_agent(type="sales"),
    )
    CapabilitySnapshot.objects.create(agent=just_probed, probed_at=now, last_attempt_at=now - timedelta(minutes=5))
    CapabilitySnapshot.objects.create(agent=probed_last_hour, last_attempt_at=now - timedelta(minutes=31))
    CapabilitySnapshot.objects.create(agent=failed_just_now, error_kind="timeout", last_attempt_at=now)
    assert set(due_for_crawl(now)) == {probed_last_hour}
    # An operator naming agents is not held back.
    assert jobs.start_crawl([just_probed.pk], sync=True, deadline=0.5).agents == 1


@pytest.fixture
def redis_queue() -> Iterator[Redis]:
    if not REDIS_URL:
        pytest.skip("needs Redis (bin/test sets REDIS_URL)")
    queues = {"crawl": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60}, "default": {"URL": REDIS_URL}}
    with override_settings(REDIS_URL=REDIS_URL, RQ_QUEUES=queues, AGENT_CRAWL_CHUNK_SIZE=3):
        connection = jobs.redis_connection()
        connection.flushdb()
        yield connection
        connection.flushdb()


def test_a_crawl_runs_through_a_real_rq_worker(
    demo_registry: str, redis_queue: Redis, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    import django_rq
    from rq import SimpleWorker

    # django-rq enqueues when the surrounding transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        start = jobs.start_crawl(deadline=1.0)
    assert (start.started, start.inline, start.agents, start.chunks) == (True, False, 16, 6)
    queue = django_rq.get_queue("crawl")
    assert queue.count == 6

    again = jobs.start_crawl()
    assert not again.started and start.run_id in again.reason

    worker = SimpleWorker([queue], connection=queue.connection)
    worker.work(burst=True)
    assert queue.count == 0
    assert CapabilitySnapshot.objects.count() == 16
    assert _types()["bidcliq"] == ("buying", "sales")
    assert set(TypeReclassification.objects.filter(source="crawler_disagreement").values_list("run_id", flat=True)) == {
        __import__("uuid").UUID(start.run_id)
    }
    # The last chunk released the lock: the next scheduled crawl starts.
    assert redis_queue.get(jobs.CRAWL_LOCK_KEY) is None
    with override_settings(AGENT_CRAWL_MIN_INTERVAL=0), django_capture_on_commit_callbacks(execute=True):
        assert jobs.scheduled_crawl()["chunks"] == 6
    assert redis_queue.get(jobs.CRAWL_LOCK_KEY) is not None


def test_a_failed_chunk_holds_the_crawl_lock_until_its_retry_succeeds(
    demo_registry: str,
    redis_queue: Redis,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import django_rq
    from rq import SimpleWorker

    with django_capture_on_commit_callbacks(execute=True):
        start = jobs.start_crawl(deadline=1.0)
    queue = django_rq.get_queue("crawl")

    def database_restarting(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database is restarting")

    with monkeypatch.context() as patch:
        patch.setattr(jobs, "apply_probe_results", database_restarting)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    retrying = queue.scheduled_job_registry.get_job_ids()
    assert len(retrying) == 6 and CapabilitySnapshot.objects.count() == 0
    # While RQ holds the retries, the schedule must not start a crawl over the same agents.
    assert redis_queue.get(jobs.CRAWL_LOCK_KEY) == start.run_id.encode()
    assert jobs.scheduled_crawl()["started"] is False

    for job_id in retrying:  # the retry interval has passed
        queue.scheduled_job_registry.requeue(job_id)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert CapabilitySnapshot.objects.count() == 16
    assert redis_queue.get(jobs.CRAWL_LOCK_KEY) is None


def test_the_command_says_when_redis_is_down(db: None) -> None:
    make_agent()
    queues = {"crawl": {"URL": "redis://127.0.0.1:1/0"}, "default": {"URL": "redis://127.0.0.1:1/0"}}
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", RQ_QUEUES=queues):
        with pytest.raises(CommandError, match="Redis is unavailable.*Run with --sync"):
            call_command("crawl_agents")


def test_without_redis_jobs_run_inline(db: None, demo_fleet: str) -> None:
    agent = make_agent(f"{demo_fleet}/northwind/mcp")
    with override_settings(REDIS_URL=""):
        start = jobs.start_crawl()
    assert start.inline and start.summary.promoted == 1
    agent.refresh_from_db()
    assert agent.type == "sales"


def test_an_agent_paused_while_its_chunk_waits_in_the_queue_is_not_probed(
    demo_registry: str, redis_queue: Redis, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    import django_rq
    from rq import SimpleWorker

    with django_capture_on_commit_callbacks(execute=True):
        start = jobs.start_crawl(deadline=1.0)
    assert start.agents == 16
    paused = Agent.objects.get(url=f"{demo_registry}/bidcliq/mcp")
    Agent.objects.filter(pk=paused.pk).update(monitoring_paused=True)  # staff pause it before a worker is free

    queue = django_rq.get_queue("crawl")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert CapabilitySnapshot.objects.count() == 15
    assert not CapabilitySnapshot.objects.filter(agent=paused).exists()
    assert not TypeReclassification.objects.filter(agent_url=paused.url).exclude(source="member_write").exists()


def test_a_second_crawl_says_why_nothing_was_due_and_all_probes_them_anyway(
    demo_registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("crawl_agents", sync=True, timeout=1.0)
    first = capsys.readouterr().out
    assert "not due" not in first  # the first crawl of the demo takes every agent
    call_command("crawl_agents", sync=True, timeout=1.0)
    second = capsys.readouterr().out
    assert "0 probed" in second
    assert "16 agents not due: 16 attempted in the last 30 minutes." in second
    assert "--all probes the registered, unpaused ones anyway" in second
    cache.clear()  # the manual-probe limit of the first two crawls' agents is not in play here
    call_command("crawl_agents", "--all", sync=True, timeout=1.0)
    assert "16 probed" in capsys.readouterr().out


def test_not_due_names_each_reason(db: None) -> None:
    now = timezone.now()
    make_agent("https://paused.example.com/mcp", monitoring_paused=True)
    backing = make_agent("https://backing.example.com/mcp")
    CapabilitySnapshot.objects.create(agent=backing, next_probe_after=now + timedelta(days=2), unknown_attempts=2)
    gone = make_agent("https://gone.example.com/mcp")
    CapabilitySnapshot.objects.create(agent=gone, terminal_state="unreachable")
    lately = make_agent("https://lately.example.com/mcp", type="sales")
    CapabilitySnapshot.objects.create(agent=lately, last_attempt_at=now - timedelta(minutes=5))
    counts, due_again = not_due(now)
    assert counts == {"paused": 1, "given_up": 1, "backing_off": 1, "recent": 1}
    assert due_again == CapabilitySnapshot.objects.get(agent=backing).next_probe_after
