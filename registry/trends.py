"""The registry's type counts day by day: taken by the scheduler, reconstructed before that.

The published type changes only through the audited writer, so the counts of any past
day follow from today's by undoing, day by day backwards, every applied audit row and
every agent created since (an agent is created unclassified; a row without an old type
is read as a change from unclassified). A day recorded by the scheduler is never
overwritten by a reconstruction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import APPLIED, TypeReclassification
from registry.models import Agent, TypeCountDay
from registry.types import AgentType

TREND_DAYS = 90


def current_counts() -> Counter[str]:
    return Counter(dict(Agent.objects.values_list("type").annotate(n=Count("pk")).order_by()))


def record_type_counts() -> int:
    """Today's counts (an upsert: the last run of the day stands), then any missing past day
    of the trend window reconstructed. Returns the rows written."""
    today = timezone.localdate()
    counts = current_counts()
    rows = [TypeCountDay(day=today, type=t, count=counts.get(t, 0), reconstructed=False) for t in AgentType.values]
    TypeCountDay.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["day", "type"], update_fields=["count", "reconstructed"]
    )
    return len(rows) + reconstruct(today, counts)


def reconstruct(today: date, counts: Counter[str], days: int = TREND_DAYS) -> int:
    """Fill the days of the window the scheduler did not record, from the audit history."""
    first = today - timedelta(days=days - 1)
    recorded = set(TypeCountDay.objects.filter(day__gte=first, day__lt=today).values_list("day", flat=True).distinct())
    missing = [first + timedelta(days=n) for n in range(days - 1) if first + timedelta(days=n) not in recorded]
    if not missing:
        return 0
    changes: dict[date, Counter[str]] = defaultdict(Counter)
    rows = (
        TypeReclassification.objects.filter(APPLIED, changed_at__date__gt=missing[0])
        .annotate(day=TruncDate("changed_at"))
        .values_list("day", "old_type", "new_type")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, old, new, n in rows:
        changes[day][new] -= n
        changes[day][old or AgentType.UNKNOWN] += n
    created = (
        Agent.objects.filter(created_at__date__gt=missing[0])
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for day, n in created:
        changes[day][AgentType.UNKNOWN] -= n
    state = Counter(counts)
    written: list[TypeCountDay] = []
    wanted = set(missing)
    day = today
    while day > missing[0]:
        state.update(changes.get(day, Counter()))  # undo the day: the state at the end of the day before
        day -= timedelta(days=1)
        if day in wanted:
            written += [
                TypeCountDay(day=day, type=t, count=max(state.get(t, 0), 0), reconstructed=True)
                for t in AgentType.values
            ]
    TypeCountDay.objects.bulk_create(written, ignore_conflicts=True)
    return len(written)
