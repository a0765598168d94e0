"""RQ jobs: the scheduled crawl and its chunks.

Jobs take primary keys and are idempotent (the policy writes nothing twice).
With ``REDIS_URL`` unset, jobs run inline in the calling process.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from config import queues
from config.queues import JobQueueUnavailable, jobs_are_inline
from crawler.models import CrawlChunk, ReprobeRun
from crawler.policy import CrawlSummary, apply_probe_results
from crawler.remembered import REMEMBERED_ROUTE, remembered_route
from crawler.selection import due_for_crawl, in_crawl_order
from credentials.sealing import credentials_for, record_use
from probe import ProbeLimits, ProbeTarget, iter_probe_batches
from registry.models import Agent

logger = logging.getLogger(__name__)

CRAWL_QUEUE = "crawl"
CRAWL_LOCK_KEY = "registry:crawl:lock"
CRAWL_PENDING_KEY = "registry:crawl:pending"
# Long enough for the largest crawl; a crashed crawl frees the lock when it expires.
CRAWL_LOCK_TTL = 2 * 60 * 60
CHUNK_JOB_TIMEOUT = 15 * 60
WRITE_BATCH = 500


def redis_connection() -> Any:
    return queues.redis_connection(CRAWL_QUEUE)


def enqueue(func: Callable[..., Any], *args: Any, job_id: str | None = None, **kwargs: Any) -> Any:
    """Enqueue on the crawl queue (inline without Redis). A chunk that fails (the database
    restarting, say) wrote only whole transactions and is safe to run again: it is retried."""
    return queues.enqueue(
        CRAWL_QUEUE,
        func,
        *args,
        timeout=CHUNK_JOB_TIMEOUT,
        retry_intervals=settings.AGENT_CRAWL_RETRY_INTERVALS,
        job_id=job_id,
        **kwargs,
    )


def crawl_chunk(
    agent_ids: Sequence[int], run_id: str | None = None, deadline: float | None = None, *, queued: bool = False
) -> dict[str, Any]:
    """Probe these agents concurrently and apply the policy. Safe to run twice.

    ``queued`` chunks count themselves done so the last one frees the crawl lock.
    """
    started = time.monotonic()
    finished = False
    try:
        rows = list(
            in_crawl_order(Agent.objects.filter(pk__in=list(agent_ids), monitoring_paused=False)).values_list(
                "pk", "url", "protocol", *REMEMBERED_ROUTE
            )
        )
        opened = credentials_for(pk for pk, *_ in rows)
        targets = [
            ProbeTarget(url, protocol, remembered_route(*route), opened.get(pk)) for pk, url, protocol, *route in rows
        ]
        summary = CrawlSummary()
        # Results are written in short transactions as they arrive, while the
        # agents that have not answered yet run out their deadline.
        limits = ProbeLimits.from_settings(deadline=deadline)
        for batch in iter_probe_batches(targets, limits, max_batch=WRITE_BATCH):
            pairs = [(rows[index][0], result) for index, result in batch]
            outcomes = apply_probe_results(pairs, run_id=uuid.UUID(run_id) if run_id else None).outcomes
            record_use(((o.agent_id, o.error_kind) for o in outcomes), opened)
            summary.add(outcomes)
        summary.elapsed = time.monotonic() - started
        if run_id:
            CrawlChunk.record(run_id, summary)
        finished = True
        return summary.as_dict()
    finally:
        # A failed chunk that RQ will retry still holds its share of the crawl
        # lock: releasing it early would let the next crawl probe the same agents.
        if queued and run_id and (finished or not _retry_pending()):
            _chunk_done(run_id)


def _retry_pending() -> bool:
    from rq import get_current_job

    job = get_current_job()
    return bool(job and job.should_retry)


def _chunk_done(run_id: str) -> None:
    connection = redis_connection()
    if connection.decr(f"{CRAWL_PENDING_KEY}:{run_id}") <= 0:
        connection.delete(f"{CRAWL_PENDING_KEY}:{run_id}")
        # Release the lock only if it is still this crawl's.
        if connection.get(CRAWL_LOCK_KEY) == run_id.encode():
            connection.delete(CRAWL_LOCK_KEY)


@dataclass
class CrawlStart:
    run_id: str
    agents: int
    chunks: int
    started: bool
    inline: bool
    summary: CrawlSummary = field(default_factory=CrawlSummary)
    reason: str = ""


def _chunks(ids: list[int]) -> list[list[int]]:
    size = max(1, settings.AGENT_CRAWL_CHUNK_SIZE)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def start_crawl(
    agent_ids: Sequence[int] | None = None, *, sync: bool = False, deadline: float | None = None
) -> CrawlStart:
    """Select due agents (or the given ones) and crawl them in chunks.

    With Redis the chunks are enqueued for any number of workers; a crawl still
    running holds a lock, so the schedule never starts a second one over it.
    ``sync`` (or no Redis) probes in this process instead.
    """
    run_id = str(uuid.uuid4())
    if agent_ids is None:
        ids = list(due_for_crawl(timezone.now()).values_list("pk", flat=True))
    else:
        ids = list(
            in_crawl_order(Agent.objects.filter(pk__in=agent_ids, monitoring_paused=False)).values_list("pk", flat=True)
        )
    chunks = _chunks(ids)
    inline = sync or jobs_are_inline()
    start = CrawlStart(run_id=run_id, agents=len(ids), chunks=len(chunks), started=True, inline=inline)
    if inline:
        began = time.monotonic()
        for chunk in chunks:
            start.summary.merge(crawl_chunk(chunk, run_id, deadline))
        start.summary.elapsed = time.monotonic() - began
        return start
    if not chunks:
        return start
    from redis.exceptions import RedisError

    try:
        connection = redis_connection()
        if not connection.set(CRAWL_LOCK_KEY, run_id, nx=True, ex=CRAWL_LOCK_TTL):
            running = connection.get(CRAWL_LOCK_KEY)
            start.started = False
            start.reason = f"a crawl is already running (run {running.decode() if running else '?'})"
            logger.info("crawl not started: %s", start.reason)
            return start
        connection.set(f"{CRAWL_PENDING_KEY}:{run_id}", len(chunks), ex=CRAWL_LOCK_TTL)
    except RedisError as exc:
        raise JobQueueUnavailable(f"cannot start the crawl: Redis is unavailable ({exc})") from exc
    for index, chunk in enumerate(chunks):
        enqueue(crawl_chunk, chunk, run_id, deadline, queued=True, job_id=f"crawl-{run_id}-{index}")
    logger.info("crawl %s: %d agents in %d chunks enqueued", run_id, len(ids), len(chunks))
    return start


def scheduled_crawl() -> dict[str, Any]:
    """The cron entry point (config/cron.py)."""
    start = start_crawl()
    return {
        "run_id": start.run_id,
        "agents": start.agents,
        "chunks": start.chunks,
        "started": start.started,
        "reason": start.reason,
    }


def run_reprobe(reprobe_run_id: int) -> str:
    """Probe the agents of an admin reprobe and keep the result as a pending plan."""
    return ReprobeRun.objects.get(pk=reprobe_run_id).probe()
