"""The staff dashboard: the registry's health at a glance."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import Source, TypeReclassification
from config.queues import jobs_are_inline
from crawler.models import CrawlChunk
from registry.models import Agent, CapabilitySnapshot
from registry.types import AgentType, TerminalState

BAR_WIDTH = 360


def agents_by_type() -> list[dict[str, Any]]:
    counts = dict(Agent.objects.values_list("type").annotate(n=Count("pk")).order_by())
    total = sum(counts.values()) or 1
    top = max(counts.values(), default=0) or 1
    return [
        {
            "type": t.value,
            "label": t.label,
            "count": counts.get(t.value, 0),
            "share": round(100 * counts.get(t.value, 0) / total, 1),
            "width": round(BAR_WIDTH * counts.get(t.value, 0) / top),
            "y": 4 + 22 * i,
        }
        for i, t in enumerate(AgentType)
    ]


def events_by_day(days: int = 30) -> dict[str, Any]:
    since = timezone.now() - timedelta(days=days)
    rows = (
        TypeReclassification.objects.filter(changed_at__gte=since)
        .annotate(day=TruncDate("changed_at"))
        .values_list("day", "source")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    by_source: Counter[str] = Counter()
    for day, source, n in rows:
        per_day[day][source] += n
        by_source[source] += n
    today = timezone.now().date()
    series = [(today - timedelta(days=offset)) for offset in range(days - 1, -1, -1)]
    top = max((sum(per_day[d].values()) for d in series), default=0) or 1
    return {
        "bars": [
            {"day": d, "total": total, "height": height, "x": i * 12, "y": 90 - height}
            for i, d in enumerate(series)
            for total in [sum(per_day[d].values())]
            for height in [round(80 * total / top)]
        ],
        "by_source": [(Source(s).label, by_source.get(s, 0)) for s in Source.values],
        "total": sum(by_source.values()),
    }


def dashboard_context() -> dict[str, Any]:
    now = timezone.now()
    snapshots = CapabilitySnapshot.objects
    by_type = agents_by_type()
    terminal_counts = dict(
        snapshots.exclude(terminal_state="").values_list("terminal_state").annotate(n=Count("pk")).order_by()
    )
    return {
        "by_type": by_type,
        "total_agents": sum(row["count"] for row in by_type),
        "unknown_share": next(row["share"] for row in by_type if row["type"] == AgentType.UNKNOWN),
        "open_disagreements": Agent.objects.open_disagreements().count(),
        "in_backoff": snapshots.filter(terminal_state="", next_probe_after__gt=now).count(),
        "need_credentials": snapshots.filter(auth_required=True).count(),
        "terminal": [(state.value, state.label, terminal_counts.get(state.value, 0)) for state in TerminalState],
        "events": events_by_day(),
        "last_crawl": CrawlChunk.objects.last_run(),
        # django-rq's pages would show the queues of a Redis this registry does not use.
        "job_queues": not jobs_are_inline(),
    }
