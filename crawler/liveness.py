"""Is an agent up, how often, how fast: computed from the probe history (``ProbeRecord``).

An agent behind a login answered: only a probe that got no answer counts as down.
Three failed probes in a row after an answer make it offline (an event owners hear
of), the next answer brings it back. Small pure functions, tested as tables.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, IntegerField, Q

from crawler.models import ProbeDay, ProbeRecord
from probe.vocabulary import AUTH_ERROR_KINDS

OK = "ok"
ANSWERED = frozenset({OK, *AUTH_ERROR_KINDS})
OFFLINE_AFTER = 3
SUMMARY_WINDOW = timedelta(days=7)
HISTORY_DAYS = 30
# Raw rows are kept this long, one row per agent and day this long (see the README's sizing).
RAW_KEPT = timedelta(days=30)
DAYS_KEPT = timedelta(days=400)
BATCH = 10_000

# (when, outcome, latency in ms)
Probe = tuple[datetime, str, int]


def percentile(values: Sequence[int], share: float) -> int | None:
    """The nearest-rank percentile (``share`` of 0.5 is the median); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def uptime(probes: Iterable[Probe], since: datetime) -> float | None:
    """The share of the probes since then that got an answer; None with no probe."""
    outcomes = [outcome for when, outcome, _ in probes if when >= since]
    return round(sum(o in ANSWERED for o in outcomes) / len(outcomes), 4) if outcomes else None


def answered_latencies(probes: Iterable[Probe], since: datetime) -> list[int]:
    return [latency for when, outcome, latency in probes if when >= since and outcome in ANSWERED]


def transition(streak_before: int, ever_answered: bool, answered: bool) -> str:
    """What one probe did to an agent's availability: "went_offline", "back_online" or ""."""
    was_offline = ever_answered and streak_before >= OFFLINE_AFTER
    if answered:
        return "back_online" if was_offline else ""
    return "went_offline" if ever_answered and streak_before + 1 == OFFLINE_AFTER else ""


class Median(Aggregate):
    """PostgreSQL's nearest-rank median (``percentile``'s, in SQL): one row per agent, not its probes."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = IntegerField()


def summaries(agent_ids: Sequence[int], now: datetime) -> dict[int, tuple[Any, Any]]:
    """Each agent's 7-day uptime and median latency, from the stored rows (this batch's included): one query.

    PostgreSQL aggregates per agent; elsewhere (SQLite) the rows are read and counted here."""
    since = now - SUMMARY_WINDOW
    stored = ProbeRecord.objects.filter(agent_id__in=list(agent_ids), probed_at__gte=since)
    answered = Q(outcome__in=ANSWERED)
    if connection.vendor == "postgresql":
        rows = (
            stored.values("agent_id")
            .annotate(n=Count("pk"), up=Count("pk", filter=answered), median=Median("latency_ms", filter=answered))
            .order_by()
        )
        return {row["agent_id"]: (round(row["up"] / row["n"], 4), row["median"]) for row in rows}
    probes: defaultdict[int, list[Probe]] = defaultdict(list)
    for agent_id, when, outcome, latency in stored.values_list("agent_id", "probed_at", "outcome", "latency_ms"):
        probes[agent_id].append((when, outcome, latency))
    return {
        agent_id: (uptime(found, since), percentile(answered_latencies(found, since), 0.5))
        for agent_id, found in probes.items()
    }


def agent_liveness(agent_id: int, failure_streak: int, last_ok_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The detail endpoint's ``liveness`` (one query over the agent's last 30 days)."""
    start = now - timedelta(days=HISTORY_DAYS)
    probes: list[Probe] = list(
        ProbeRecord.objects.filter(agent_id=agent_id, probed_at__gte=start)
        .order_by("probed_at")
        .values_list("probed_at", "outcome", "latency_ms")
    )
    week = now - SUMMARY_WINDOW
    by_day: defaultdict[date, list[Probe]] = defaultdict(list)
    for probe in probes:
        by_day[probe[0].date()].append(probe)
    today = now.date()
    days = [today - timedelta(days=offset) for offset in range(HISTORY_DAYS - 1, -1, -1)]
    return {
        "uptime_24h": uptime(probes, now - timedelta(hours=24)),
        "uptime_7d": uptime(probes, week),
        "uptime_30d": uptime(probes, start),
        "latency_p50_ms": percentile(answered_latencies(probes, week), 0.5),
        "latency_p95_ms": percentile(answered_latencies(probes, week), 0.95),
        "failure_streak": failure_streak,
        "last_ok_at": last_ok_at,
        "daily": [
            {
                "date": day,
                "probes": len(by_day[day]),
                "ok": sum(outcome in ANSWERED for _, outcome, _ in by_day[day]),
                "latency_p50_ms": percentile([lat for _, o, lat in by_day[day] if o in ANSWERED], 0.5),
            }
            for day in days
        ],
    }


def roll_up(day: date) -> int:
    """Write (again) each agent's row for this day from its raw probes: idempotent. Rows written."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    rows = (
        ProbeRecord.objects.filter(probed_at__gte=start, probed_at__lt=start + timedelta(days=1))
        .order_by("agent_id")
        .values_list("agent_id", "outcome", "latency_ms")
    )
    days: list[ProbeDay] = []
    current: int | None = None
    outcomes: list[tuple[str, int]] = []

    def close() -> None:
        if current is not None:
            latencies = [latency for outcome, latency in outcomes if outcome in ANSWERED]
            days.append(
                ProbeDay(
                    agent_id=current,
                    day=day,
                    probes=len(outcomes),
                    ok=len(latencies),
                    latency_p50_ms=percentile(latencies, 0.5),
                    latency_p95_ms=percentile(latencies, 0.95),
                )
            )

    for agent_id, outcome, latency in rows.iterator(chunk_size=BATCH):
        if agent_id != current:
            close()
            current, outcomes = agent_id, []
        outcomes.append((outcome, latency))
    close()
    ProbeDay.objects.bulk_create(
        days,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["agent", "day"],
        update_fields=["probes", "ok", "latency_p50_ms", "latency_p95_ms"],
    )
    return len(days)


def prune(now: datetime) -> tuple[int, int]:
    """Roll up the days about to leave the raw table, then delete raw rows older than RAW_KEPT and
    daily rows older than DAYS_KEPT, in batches; running it again deletes nothing more."""
    cutoff = now - RAW_KEPT
    oldest = ProbeRecord.objects.filter(probed_at__lt=cutoff).order_by("probed_at").values_list("probed_at", flat=True)
    first = oldest.first()
    day = first.date() if first else cutoff.date()
    while day <= cutoff.date():
        roll_up(day)
        day += timedelta(days=1)
    raw = _delete_in_batches(ProbeRecord.objects.filter(probed_at__lt=cutoff))
    daily = _delete_in_batches(ProbeDay.objects.filter(day__lt=(now - DAYS_KEPT).date()))
    return raw, daily


def _delete_in_batches(rows: Any) -> int:
    deleted = 0
    while ids := list(rows.values_list("pk", flat=True)[:BATCH]):
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
    return deleted


def maintain_probe_history() -> dict[str, int]:
    """The daily job (config/cron.py): yesterday's rollup, then the pruning."""
    from django.utils import timezone

    now = timezone.now()
    rolled = roll_up(now.date() - timedelta(days=1))
    raw, daily = prune(now)
    return {"rolled_up": rolled, "raw_deleted": raw, "days_deleted": daily}
