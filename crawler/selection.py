"""Which agents a crawl probes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from registry.models import Agent
from registry.types import AgentType


def due_for_crawl(now: datetime) -> QuerySet[Agent]:
    """Unpaused agents that are due: known types every crawl, unknown ones per their backoff.

    An agent attempted within ``AGENT_CRAWL_MIN_INTERVAL`` is not due yet, so a
    crawl that starts after an interrupted one (Redis lost its queue, a worker
    died) probes only the agents the interrupted crawl did not reach.
    """
    recently = now - timedelta(seconds=settings.AGENT_CRAWL_MIN_INTERVAL)
    return (
        Agent.objects.filter(monitoring_paused=False)
        .filter(Q(snapshot__isnull=True) | Q(snapshot__last_attempt_at__isnull=True) | Q(snapshot__last_attempt_at__lte=recently))
        .filter(
            Q(snapshot__isnull=True)
            | ~Q(type=AgentType.UNKNOWN)
            | (Q(snapshot__terminal_state="") & (Q(snapshot__next_probe_after__isnull=True) | Q(snapshot__next_probe_after__lte=now)))
        )
        .order_by("pk")
    )
