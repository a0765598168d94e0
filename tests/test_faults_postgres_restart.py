"""PostgreSQL restarts while real RQ workers crawl: the cut chunk fails, RQ retries it, nothing is partial.

The cluster is a private one (initdb), so restarting it cuts the worker's
sessions, not the suite's.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_client
from django.db import connection
from rq import Queue

from audit.models import TypeReclassification
from crawler.jobs import CRAWL_LOCK_KEY, CRAWL_QUEUE
from crawler.models import CrawlChunk
from registry.models import Agent, CapabilitySnapshot
from tests.processes import manage_py, stop_process_group, wait_until
from tests.services import PrivatePostgres, PrivateRedis

AGENTS, CHUNK, RETRIES = 400, 50, 3


@pytest.fixture
def services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    # Not pytest's tmp_path: the postgres user must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    postgres = PrivatePostgres(folder)
    postgres.start()
    redis = PrivateRedis()
    redis.start()
    yield postgres, redis
    redis.crash()
    postgres.stop()
    shutil.rmtree(folder)


def _one(database: str, sql: str) -> Any:
    # A new session each time: the old ones do not survive the restart.
    with psycopg.connect(database, connect_timeout=5) as session:
        row = session.execute(sql).fetchone()
        assert row is not None, sql
        return row[0]


def _run(*args: str, **env: str) -> None:
    process = manage_py(*args, log=None, **env)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()


def test_a_chunk_cut_by_a_postgres_restart_is_retried_and_nothing_is_partial(
    hostile: str, services: tuple[PrivatePostgres, PrivateRedis], tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL is what restarts here")
    postgres, redis = services
    database = postgres.url("postgres")
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": redis.url,
        "AGENT_CRAWL_CHUNK_SIZE": str(CHUNK),
        "AGENT_PROBE_CONCURRENCY": "10",
        "AGENT_CRAWL_RETRY_INTERVALS": ",".join(["1"] * RETRIES),
    }
    _run("migrate", **env)
    _run(
        "shell",
        "-c",
        (
            "from registry.models import Agent; "
            f"Agent.objects.bulk_create(Agent(url=f'{hostile}/slow/{{i}}/mcp') for i in range({AGENTS}))"
        ),
        **env,
    )
    _run("crawl_agents", **env)
    log = tmp_path / "worker.log"
    worker = manage_py("rqworker", "--with-scheduler", CRAWL_QUEUE, log=log, **env)
    snapshots, snapshot_table = 0, CapabilitySnapshot._meta.db_table
    queue_redis = redis_client.Redis.from_url(redis.url)
    try:
        wait_until(
            lambda: _one(database, f"SELECT count(*) FROM {snapshot_table}") >= CHUNK, timeout=60, what="a chunk"
        )
        postgres.restart()
        snapshots = _one(database, f"SELECT count(*) FROM {snapshot_table}")
        wait_until(lambda: queue_redis.get(CRAWL_LOCK_KEY) is None, timeout=120, what="the crawl to finish")
    finally:
        stop_process_group(worker, grace=0)

    queue = Queue(CRAWL_QUEUE, connection=queue_redis)
    finished = [queue.fetch_job(job_id) for job_id in queue.finished_job_registry.get_job_ids()]
    retried = [job for job in finished if job and job.retries_left is not None and job.retries_left < RETRIES]
    assert retried, "the restart cut no chunk: " + log.read_text()[-2000:]
    assert queue.failed_job_registry.count == 0, log.read_text()[-3000:]

    def count(table: str, where: str = "TRUE") -> int:
        return int(_one(database, f"SELECT count(*) FROM {table} WHERE {where}"))

    audit_table = TypeReclassification._meta.db_table
    assert count(snapshot_table, "inferred_type = 'sales' AND probed_at IS NOT NULL") == AGENTS
    assert count(Agent._meta.db_table, "type = 'sales'") == AGENTS
    promoted = "source = 'crawler_promote'"
    assert count(audit_table, promoted) == AGENTS
    assert _one(database, f"SELECT count(DISTINCT agent_url) FROM {audit_table} WHERE {promoted}") == AGENTS
    # One record per chunk: a retried chunk records itself once, when it succeeds.
    assert count(CrawlChunk._meta.db_table) == AGENTS // CHUNK
    print(f"restart after {snapshots} snapshots; {len(retried)} chunk(s) retried; all {AGENTS} agents promoted once")
