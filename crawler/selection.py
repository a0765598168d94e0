"""Which agents a crawl probes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Q, QuerySet, Value, When

from probe.vocabulary import ProbeErrorKind
from registry.models import Agent
from registry.types import AgentType


def due_for_crawl(now: datetime) -> QuerySet[Agent]:
    """Unpaused, registered agents that are due: known types every crawl, unknown ones
    per their backoff (an agent no member registers any more is not crawled).

    An agent attempted within ``AGENT_CRAWL_MIN_INTERVAL`` is not due yet, so a
    crawl that starts after an interrupted one (Redis lost its queue, a worker
    died) probes only the agents the interrupted crawl did not reach.
    """
    recently = now - timedelta(seconds=settings.AGENT_CRAWL_MIN_INTERVAL)
    due = (
        Agent.objects.filter(monitoring_paused=False, unregistered_at__isnull=True)
        .filter(
            Q(snapshot__isnull=True)
            | Q(snapshot__last_attempt_at__isnull=True)
            | Q(snapshot__last_attempt_at__lte=recently)
        )
        .filter(
            Q(snapshot__isnull=True)
            | ~Q(type=AgentType.UNKNOWN)
            | (
                Q(snapshot__terminal_state="")
                & (Q(snapshot__next_probe_after__isnull=True) | Q(snapshot__next_probe_after__lte=now))
            )
        )
    )
    return in_crawl_order(due)


def in_crawl_order(agents: QuerySet[Agent]) -> QuerySet[Agent]:
    """Agents whose last probe ran out its deadline go first.

    Probes start in this order under the concurrency limit; a silent agent
    started last would keep the crawl waiting a whole deadline after everything
    else is done, one started first waits while the rest are probed.
    """
    timed_out = Case(When(snapshot__error_kind=ProbeErrorKind.TIMEOUT, then=Value(0)), default=Value(1))
    return agents.annotate(timed_out_last_time=timed_out).order_by("timed_out_last_time", "pk")
