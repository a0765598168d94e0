"""The staff dashboard: is the registry getting more honest? Each figure links to the list it counts.

The number of queries is fixed, whatever the number of agents, days or crawls: every
figure is one aggregate (pinned by tests/test_dashboard.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from audit.models import APPLIED, Source, TypeReclassification
from config.queues import jobs_are_inline
from console.charts import Bar, Series, columns, day_label, hbars, line
from crawler.models import CrawlChunk, CrawlCount
from registry.models import Agent, AgentQuerySet, DisagreementAge, TypeCountDay
from registry.trends import TREND_DAYS, current_counts
from registry.types import AgentType, TerminalState

EVENT_DAYS = 30
CRAWLS = 30
TYPE_COLORS = {
    AgentType.SALES: "#417690",
    AgentType.CREATIVE: "#79aec8",
    AgentType.SIGNALS: "#e0a526",
    AgentType.BUYING: "#5b8c3a",
    AgentType.GOVERNANCE: "#8a5fbf",
    AgentType.BRAND: "#c25b8a",
    AgentType.RIGHTS: "#2f9e94",
    AgentType.MEASUREMENT: "#8c6d46",
    AgentType.UNKNOWN: "#a8a8a8",
}
SOURCE_COLORS = {
    Source.MEMBER_WRITE: "#5b8c3a",
    Source.CRAWLER_PROMOTE: "#417690",
    Source.BACKFILL_SCRIPT: "#e0a526",
    Source.REPROBE: "#79aec8",
    Source.ADMIN_REVIEW: "#8a5fbf",
    Source.URL_MERGE: "#8c6d46",
}
RECORDED_ONLY = "#c9c9c9"
FAILED_COLOR = "#b0413e"
ANSWERED_COLOR = "#417690"


@dataclass(frozen=True)
class Legend:
    name: str
    color: str
    total: float
    href: str


def _agents(**filters: str) -> str:
    return reverse("admin:registry_agent_changelist") + (f"?{urlencode(filters)}" if filters else "")


def _audit(**filters: str) -> str:
    return reverse("admin:audit_typereclassification_changelist") + (f"?{urlencode(filters)}" if filters else "")


def _day_filters(day: date) -> dict[str, str]:
    return {"changed_at__gte": day.isoformat(), "changed_at__lt": (day + timedelta(days=1)).isoformat()}


def agents_by_type(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    bars = [
        Bar(
            t.label,
            counts.get(t.value, 0),
            _agents(type__exact=t.value),
            TYPE_COLORS[t],
            f"{100 * counts.get(t.value, 0) / total:.1f}%" if total else "0%",
        )
        for t in AgentType
    ]
    return {"chart": hbars("Agents by published type", bars), "bars": bars, "total": total}


def type_trends(counts: Counter[str], today: date) -> dict[str, Any]:
    """The unclassified share and the share of each type, a column per day for 90 days."""
    days = [today - timedelta(days=n) for n in range(TREND_DAYS - 1, -1, -1)]
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    reconstructed: set[date] = set()
    for row in TypeCountDay.objects.filter(day__gte=days[0], day__lt=today).values_list(
        "day", "type", "count", "reconstructed"
    ):
        day, type_, count, rebuilt = row
        by_day[day][type_] = count
        if rebuilt:
            reconstructed.add(day)
    by_day[today] = dict(counts)  # today as it is now
    labels = [day_label(d) for d in days]
    shares: list[float | None] = []
    for d in days:
        total = sum(by_day[d].values()) if d in by_day else 0
        shares.append(100 * by_day[d].get(AgentType.UNKNOWN, 0) / total if total else None)
    unknown_list = _agents(type__exact=AgentType.UNKNOWN)
    series = [
        Series(
            t.label,
            TYPE_COLORS[t],
            [by_day[d].get(t.value, 0) if d in by_day else 0 for d in days],
            [_agents(type__exact=t.value)] * len(days),
            [d in reconstructed for d in days],
        )
        for t in AgentType
    ]
    return {
        "unknown_chart": line("Unclassified share of agents per day", labels, shares, [unknown_list] * len(days)),
        "share_chart": columns("Share of each type per day", labels, series, percent=True, tick_every=14),
        "legend": [
            Legend(t.label, TYPE_COLORS[t], counts.get(t.value, 0), _agents(type__exact=t.value)) for t in AgentType
        ],
        "recorded_days": sum(1 for d in days[:-1] if d in by_day) - len(reconstructed),
        "reconstructed_days": len(reconstructed),
        "first_share": next((s for s in shares if s is not None), None),
        "last_share": shares[-1],
    }


def type_events(today: date) -> dict[str, Any]:
    """Type events per day by source: applied changes apart from recorded-only disagreements."""
    days = [today - timedelta(days=n) for n in range(EVENT_DAYS - 1, -1, -1)]
    rows = (
        TypeReclassification.objects.filter(changed_at__date__gte=days[0])
        .annotate(day=TruncDate("changed_at"))
        .values_list("day", "source")
        .annotate(applied=Count("pk", filter=APPLIED), recorded=Count("pk", filter=~APPLIED))
        .order_by()
    )
    applied: dict[str, Counter[date]] = defaultdict(Counter)
    recorded: Counter[date] = Counter()
    for day, source, n_applied, n_recorded in rows:
        applied[source][day] += n_applied
        recorded[day] += n_recorded
    series = [
        Series(
            f"{Source(s).label} (applied)",
            color,
            [applied[s][d] for d in days],
            [_audit(applied="yes", source__exact=s, **_day_filters(d)) for d in days],
        )
        for s, color in SOURCE_COLORS.items()
    ]
    series.append(
        Series(
            "Recorded only (disagreements, kept types)",
            RECORDED_ONLY,
            [recorded[d] for d in days],
            [_audit(applied="no", **_day_filters(d)) for d in days],
        )
    )
    since = _day_filters(days[0])["changed_at__gte"]
    legend = [
        Legend(s.name, s.color, sum(s.values), _audit(applied="yes", source__exact=source, changed_at__gte=since))
        for s, source in zip(series, SOURCE_COLORS, strict=False)
    ]
    legend.append(
        Legend(series[-1].name, RECORDED_ONLY, sum(series[-1].values), _audit(applied="no", changed_at__gte=since))
    )
    return {
        "chart": columns("Type events per day by source", [day_label(d) for d in days], series),
        "legend": legend,
        "total": sum(item.total for item in legend),
    }


@dataclass(frozen=True)
class Crawl:
    run_id: str
    finished: datetime
    duration: float
    chunks: int
    counts: dict[str, int]
    failed: Counter[str]

    @property
    def tallies(self) -> list[tuple[str, str, int]]:
        """Each crawl counter with its words, as the summary line says them."""
        return [(c.value, c.label, self.counts[c.value]) for c in CrawlCount]

    @property
    def failures(self) -> list[tuple[str, int]]:
        return sorted(self.failed.items())

    @property
    def label(self) -> str:
        return f"{day_label(self.finished.date())} {self.finished:%H:%M}"


def recent_crawls() -> dict[str, Any]:
    """The last crawls (newest first in ``crawls``; the charts oldest first): duration,
    probed, promoted, failures by kind."""
    chunks = CrawlChunk.objects.filter(
        run_id__in=CrawlChunk.objects.values("run_id")
        .annotate(last=Max("finished_at"))
        .order_by("-last")
        .values("run_id")[:CRAWLS]
    ).values_list("run_id", "finished_at", "elapsed", "failed", *CrawlCount.values)
    runs: dict[str, list[Any]] = defaultdict(list)
    for row in chunks:
        runs[str(row[0])].append(row)
    crawls = []
    for run_id, rows in runs.items():
        finished = max(r[1] for r in rows)
        started = min(r[1] - timedelta(seconds=r[2]) for r in rows)
        failed: Counter[str] = Counter()
        for r in rows:
            failed.update(r[3])
        counts = {c: sum(r[4 + i] for r in rows) for i, c in enumerate(CrawlCount.values)}
        crawls.append(Crawl(run_id, finished, (finished - started).total_seconds(), len(rows), counts, failed))
    crawls.sort(key=lambda c: c.finished)
    if not crawls:
        return {"crawls": []}
    labels = [c.label for c in crawls]
    kinds = sorted({kind for c in crawls for kind in c.failed})
    hrefs = [_audit(q=c.run_id) for c in crawls]
    durations = Series("duration", ANSWERED_COLOR, [round(c.duration, 1) for c in crawls], hrefs)
    outcome = [
        Series(
            "answered", ANSWERED_COLOR, [max(c.counts["probed"] - sum(c.failed.values()), 0) for c in crawls], hrefs
        ),
        *(
            Series(f"failed: {kind}", _shade(i), [c.failed.get(kind, 0) for c in crawls], hrefs)
            for i, kind in enumerate(kinds)
        ),
    ]
    return {
        "crawls": list(reversed(crawls)),
        "duration_chart": columns("Crawl duration", labels, [durations], unit=" s", tick_every=10),
        "outcome_chart": columns("Agents probed per crawl, by outcome", labels, outcome, tick_every=10),
        "legend": [Legend(s.name, s.color, sum(s.values), "") for s in outcome],
    }


def _shade(index: int) -> str:
    return ["#b0413e", "#d9822b", "#8c6d46", "#c25b8a", "#6b6b6b"][index % 5]


def waiting(now: datetime) -> dict[str, Any]:
    """Agents that wait on someone: credentials, backoff, given up, disagreements by age."""
    states = Agent.objects.aggregate(
        credentials=Count("pk", filter=Q(snapshot__auth_required=True)),
        backoff=Count("pk", filter=AgentQuerySet.backing_off(now)),
        **{state.value: Count("pk", filter=Q(snapshot__terminal_state=state.value)) for state in TerminalState},
    )
    ages = (
        Agent.objects.open_disagreements()
        .with_disagreement_since()
        .aggregate(**{age.value: Count("pk", filter=AgentQuerySet.aged(age, now)) for age in DisagreementAge})
    )
    disagreements = reverse("admin:registry_disagreement_changelist")
    return {
        "credentials": (states["credentials"], _agents(snapshot__auth_required__exact="1")),
        "backoff": (states["backoff"], _agents(backoff="waiting")),
        "given_up": [
            (state.label, states[state.value], _agents(snapshot__terminal_state__exact=state.value))
            for state in TerminalState
        ],
        "disagreements": [
            (age.label, ages[age.value], f"{disagreements}?{urlencode({'age': age.value})}") for age in DisagreementAge
        ],
        "open_disagreements": (sum(ages.values()), disagreements),
    }


def dashboard_context() -> dict[str, Any]:
    now = timezone.now()
    today = timezone.localdate()
    counts = current_counts()
    by_type = agents_by_type(counts)
    total = by_type["total"]
    unknown = counts.get(AgentType.UNKNOWN, 0)
    crawls = recent_crawls()
    return {
        "by_type": by_type,
        "total_agents": total,
        "unknown_share": f"{100 * unknown / total:.1f}" if total else "0.0",
        "unknown_list": _agents(type__exact=AgentType.UNKNOWN),
        "trends": type_trends(counts, today),
        "events": type_events(today),
        "crawls": crawls,
        "waiting": waiting(now),
        "last_crawl": crawls["crawls"][0] if crawls["crawls"] else None,
        # django-rq's pages would show the queues of a Redis this registry does not use.
        "job_queues": not jobs_are_inline(),
    }
