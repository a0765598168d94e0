"""One manual probe per agent per minute, shared by the API refresh and the admin's "Probe now"."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

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
