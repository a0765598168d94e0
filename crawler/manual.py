"""Manual probes: one per agent per minute, shared by the API refresh, the admin's
"Probe now" and a credential just saved."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

PER_AGENT_SECONDS = 60


class RateLimiterUnavailable(Exception):
    """The cache that holds the limits (Redis, when configured) cannot be reached."""


def claim_manual_probe(agent_id: int) -> int:
    """Claim this agent's manual probe; 0 when granted, else the seconds to wait."""
    until = time.time() + PER_AGENT_SECONDS
    try:
        if cache.add(f"manual-probe:{agent_id}", until, timeout=PER_AGENT_SECONDS):
            return 0
        held_until = cache.get(f"manual-probe:{agent_id}", until)
    except Exception as exc:  # the cache backend's own connection errors
        logger.warning("rate limiter unavailable: %s", exc)
        raise RateLimiterUnavailable(f"the rate limiter's cache is unavailable ({exc.__class__.__name__})") from exc
    return max(1, int(held_until - time.time() + 0.999))


@dataclass
class ManualProbe:
    """What became of a request to probe some agents now."""

    granted: list[int] = field(default_factory=list)
    # Agents probed less than a minute ago, with the seconds to wait.
    waiting: dict[int, int] = field(default_factory=dict)


def request_manual_probe(agent_ids: Sequence[int]) -> ManualProbe:
    """Claim each agent's manual probe and enqueue one crawl chunk of those granted, once the
    caller's transaction commits (inline without Redis).

    Raises RateLimiterUnavailable, or JobQueueUnavailable when Redis is configured but down.
    """
    from config.queues import ensure_available
    from crawler.jobs import CRAWL_QUEUE, crawl_chunk, enqueue

    request = ManualProbe()
    if agent_ids:
        # Said before any claim: a probe that cannot be enqueued must not hold its minute.
        ensure_available(CRAWL_QUEUE)
    for agent_id in agent_ids:
        wait = claim_manual_probe(agent_id)
        if wait:
            request.waiting[agent_id] = wait
        else:
            request.granted.append(agent_id)
    if request.granted:
        granted = list(request.granted)
        transaction.on_commit(lambda: enqueue(crawl_chunk, granted))
    return request


def probe_with_saved_credential(agent_id: int, **kwargs: Any) -> str:
    """The crawler's answer to ``credentials.signals.credential_saved``, for the API's
    ``Registry-Probe`` header."""
    from config.queues import JobQueueUnavailable

    try:
        request = request_manual_probe([agent_id])
    except RateLimiterUnavailable:
        return "not-enqueued; rate limiter unavailable"
    except JobQueueUnavailable:
        return "not-enqueued; job queue unavailable"
    if request.waiting:
        return f"not-enqueued; probed less than a minute ago, retry in {request.waiting[agent_id]} s"
    return "enqueued"
