"""Redis crashes in the middle of a crawl run by a real RQ worker, and comes back empty.

The schedule resumes: the next crawl probes only the agents the interrupted one
did not reach, and no agent is promoted twice.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from audit.models import TypeReclassification
from crawler import jobs
from registry.models import Agent, CapabilitySnapshot
from tests.processes import manage_py, stop_process_group, wait_until
from tests.servers import SLOW_TOOL_LISTS
from tests.services import PrivateRedis

AGENTS, CHUNK = 600, 50


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.crash()


def _worker(redis: PrivateRedis, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return manage_py(
        "rqworker",
        "--with-scheduler",
        *extra,
        "crawl",
        log=log,
        REDIS_URL=redis.url,
        AGENT_CRAWL_CHUNK_SIZE=str(CHUNK),
        AGENT_PROBE_CONCURRENCY="10",
    )


def test_a_crawl_cut_by_a_redis_crash_resumes_without_probing_anything_twice(
    transactional_db: None, hostile: str, redis: PrivateRedis, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share: PostgreSQL")
    Agent.objects.bulk_create(Agent(url=f"{hostile}/slow/{i}/mcp") for i in range(AGENTS))
    SLOW_TOOL_LISTS.clear()
    queues = {"crawl": {"URL": redis.url}, "default": {"URL": redis.url}}
    log = tmp_path / "worker.log"
    with override_settings(REDIS_URL=redis.url, RQ_QUEUES=queues, AGENT_CRAWL_CHUNK_SIZE=CHUNK):
        first = jobs.scheduled_crawl()
        assert first["chunks"] == AGENTS // CHUNK
        worker = _worker(redis, log)
        wait_until(lambda: CapabilitySnapshot.objects.count() >= 2 * CHUNK, timeout=60, what="the first chunks")

        redis.crash()
        # The worker cannot go on without its queue; what it already wrote stays.
        stop_process_group(worker, grace=30)
        with pytest.raises(CommandError, match="Redis is unavailable"):
            call_command("crawl_agents")
        reached = dict(CapabilitySnapshot.objects.values_list("agent_id", "last_attempt_at"))
        assert 2 * CHUNK <= len(reached) < AGENTS

        redis.start()  # empty: the lock and the queued chunks are gone
        resumed = jobs.scheduled_crawl()
        assert resumed["started"] and resumed["agents"] == AGENTS - len(reached)
        stop_process_group(_worker(redis, log, "--burst"), grace=120)

    snapshots = dict(CapabilitySnapshot.objects.values_list("agent_id", "last_attempt_at"))
    assert len(snapshots) == AGENTS, log.read_text()[-3000:]
    assert all(snapshots[pk] == when for pk, when in reached.items()), (
        "an agent reached before the crash was probed again"
    )
    promotions = list(TypeReclassification.objects.filter(source="crawler_promote").values_list("agent_url", flat=True))
    assert len(promotions) == len(set(promotions)) == AGENTS
    urls = dict(Agent.objects.values_list("pk", "url"))
    reached_indexes = {int(urls[pk].split("/")[-2]) for pk in reached}
    assert all(SLOW_TOOL_LISTS[i] == 1 for i in reached_indexes)
    print(f"{len(reached)} of {AGENTS} agents reached before the crash; the resumed crawl probed {resumed['agents']}")
