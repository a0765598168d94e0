"""Which agents a crawl probes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, Min, Q, QuerySet, Value, When

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


class NotDue(models.TextChoices):
    """Why the schedule leaves an agent out, first reason first."""

    PAUSED = "paused", "paused"
    UNREGISTERED = "unregistered", "registered by no member"
    GIVEN_UP = "given_up", "given up (unreachable or unclassifiable)"
    BACKING_OFF = "backing_off", "backing off (still unknown)"
    RECENT = "recent", "attempted in the last AGENT_CRAWL_MIN_INTERVAL"


def not_due(now: datetime) -> tuple[dict[str, int], datetime | None]:
    """How many agents the schedule leaves out, by their first reason, and when the
    first backing-off agent is due again (one query)."""
    recently = now - timedelta(seconds=settings.AGENT_CRAWL_MIN_INTERVAL)
    unknown = Q(type=AgentType.UNKNOWN) & Q(snapshot__isnull=False)
    reason = Case(
        When(monitoring_paused=True, then=Value(NotDue.PAUSED.value)),
        When(unregistered_at__isnull=False, then=Value(NotDue.UNREGISTERED.value)),
        When(unknown & ~Q(snapshot__terminal_state=""), then=Value(NotDue.GIVEN_UP.value)),
        When(unknown & Q(snapshot__next_probe_after__gt=now), then=Value(NotDue.BACKING_OFF.value)),
        When(snapshot__last_attempt_at__gt=recently, then=Value(NotDue.RECENT.value)),
        default=Value(""),
        output_field=models.CharField(),
    )
    rows = (
        Agent.objects.annotate(not_due=reason)
        .exclude(not_due="")
        .values("not_due")
        .annotate(n=Count("pk"), due_again=Min("snapshot__next_probe_after"))
        .order_by()
    )
    counts = {row["not_due"]: row["n"] for row in rows}
    due_again = next((row["due_again"] for row in rows if row["not_due"] == NotDue.BACKING_OFF), None)
    return {reason.value: counts[reason.value] for reason in NotDue if reason.value in counts}, due_again
