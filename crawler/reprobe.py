"""Reprobe the agents the registry could not classify: probe, plan, then apply.

Probing happens once. The plan keeps each probe result with the state the agent
had when it was selected, and the exact change the crawler policy would make
(computed by the policy itself, in memory). Applying writes those results through
the policy, skipping rows that drifted since (``registry.publish.drift``, the one
definition of stale): an agent a concurrent crawl has classified meanwhile is
counted as "skipped", one whose published type changed (or that was deleted) as "stale".
A failed re-probe writes nothing at all, so the earlier snapshot stands ("preserved").
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import models
from django.db.models import Q

from audit.models import Origin, Source
from crawler.policy import Action, Outcome, apply_probe_results, preview_probe_results
from crawler.remembered import route_of
from credentials.sealing import credentials_for
from probe import ProbeLimits, ProbeResult, ProbeTarget, iter_probe_batches
from probe.vocabulary import AUTH_ERROR_KINDS, ProbeErrorKind
from registry.models import Agent, CapabilitySnapshot
from registry.publish import AgentState, Drift, drift
from registry.types import is_known

UNREACHABLE_KINDS = frozenset({ProbeErrorKind.DNS, ProbeErrorKind.CONNECT})
SAMPLE_SIZE = 10
SLOWEST = 10
TIMED_OUT_LISTED = 50


class Classification(models.TextChoices):
    CLASSIFIED = "classified", "newly classified"
    UNCHANGED = "unchanged", "answered; its published type stays"
    STILL_UNKNOWN = "still_unknown", "answered; still unknown"
    PROBE_FAILED = "probe_failed", "probe failed"
    DNS_FAILED = "dns_failed", "DNS or connect failed"
    AUTH_REQUIRED = "auth_required", "behind a login"


@dataclass
class ReprobeEntry:
    agent_id: int
    url: str
    protocol: str
    stored_type: str
    inferred_before: str | None
    had_snapshot: bool
    result: ProbeResult
    # The policy's decision, filled in by the plan (None for failed probes).
    new_type: str | None = None
    inferred_after: str | None = None
    action: str = ""
    skipped: bool = False  # classified by a concurrent crawl since selection

    @property
    def classification(self) -> str:
        if self.result.error_kind in AUTH_ERROR_KINDS:
            return Classification.AUTH_REQUIRED
        if not self.result.ok:
            return (
                Classification.DNS_FAILED
                if self.result.error_kind in UNREACHABLE_KINDS
                else Classification.PROBE_FAILED
            )
        if self.inferred_after and self.inferred_after != self.inferred_before:
            return Classification.CLASSIFIED
        # "Still unknown" is for agents the registry publishes as unknown.
        if not self.inferred_after and not is_known(self.stored_type):
            return Classification.STILL_UNKNOWN
        return Classification.UNCHANGED

    @property
    def expected(self) -> AgentState:
        """The agent as it was when probed: what applying the result expects to find."""
        return AgentState(self.stored_type, self.inferred_before)

    @property
    def changes_type_or_inference(self) -> bool:
        return (
            self.result.ok
            and not self.skipped
            and (self.new_type != self.stored_type or self.inferred_after != self.inferred_before)
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["classification"] = self.classification
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReprobeEntry:
        data = {k: v for k, v in data.items() if k != "classification"}
        data["result"] = ProbeResult(**data["result"])
        return cls(**data)


@dataclass
class ReprobePlan:
    entries: list[ReprobeEntry] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def changes(self) -> list[ReprobeEntry]:
        return [e for e in self.entries if e.changes_type_or_inference]

    def as_dict(self) -> dict[str, Any]:
        return {"entries": [e.as_dict() for e in self.entries], "elapsed": self.elapsed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReprobePlan:
        return cls(entries=[ReprobeEntry.from_dict(e) for e in data["entries"]], elapsed=data.get("elapsed", 0.0))


@dataclass
class ReprobeApplied:
    run_id: uuid.UUID
    applied: int = 0
    promoted: int = 0
    disagreements: int = 0
    skipped: int = 0
    stale: int = 0


def select_unknown_agents(
    urls: Iterable[str] | None = None, *, include_terminal: bool = False, limit: int | None = None
) -> list[Agent]:
    """Unpaused agents whose snapshot inferred nothing, or that have none; or exactly ``urls``."""
    agents = Agent.objects.filter(monitoring_paused=False).order_by("pk")
    if urls is not None:
        agents = agents.filter(url__in=list(urls))
    else:
        agents = agents.filter(Q(snapshot__isnull=True) | Q(snapshot__inferred_type__isnull=True))
        if not include_terminal:
            agents = agents.exclude(snapshot__terminal_state__gt="")
    agents = agents.select_related("snapshot")
    return list(agents[:limit] if limit else agents)


def probe_and_plan(
    agents: list[Agent], limits: ProbeLimits, *, on_progress: Callable[[int, int], None] | None = None
) -> ReprobePlan:
    """Probe the agents (once) and compute what applying the results would change."""
    started = time.monotonic()
    entries: list[ReprobeEntry | None] = [None] * len(agents)
    done = 0
    opened = credentials_for(a.pk for a in agents)
    targets = [ProbeTarget(a.url, a.protocol, route_of(getattr(a, "snapshot", None)), opened.get(a.pk)) for a in agents]
    for batch in iter_probe_batches(targets, limits):
        for index, result in batch:
            agent = agents[index]
            snapshot = getattr(agent, "snapshot", None)
            entries[index] = ReprobeEntry(
                agent_id=agent.pk,
                url=agent.url,
                protocol=agent.protocol,
                stored_type=agent.type,
                inferred_before=snapshot.inferred_type if snapshot else None,
                had_snapshot=snapshot is not None,
                result=result,
            )
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(agents))
    plan = ReprobePlan(entries=[e for e in entries if e is not None])
    answered = [e for e in plan.entries if e.result.ok]
    outcomes = {o.agent_id: o for o in preview_probe_results([(e.agent_id, e.result) for e in answered])}
    current = dict(
        CapabilitySnapshot.objects.filter(agent_id__in=[e.agent_id for e in answered]).values_list(
            "agent_id", "inferred_type"
        )
    )
    for entry in answered:
        if current.get(entry.agent_id) != entry.inferred_before:
            entry.skipped = True
            continue
        outcome: Outcome | None = outcomes.get(entry.agent_id)
        if outcome is not None:
            entry.new_type = outcome.new_type
            entry.inferred_after = outcome.inferred_type or entry.inferred_before
            entry.action = outcome.action
    plan.elapsed = time.monotonic() - started
    return plan


def apply_reprobe(
    plan: ReprobePlan, *, actor: str = "", run_id: uuid.UUID | None = None, origin: Origin = Origin.COMMAND
) -> ReprobeApplied:
    """Write the planned results through the crawler policy, without probing again."""
    applied = ReprobeApplied(run_id=run_id or uuid.uuid4())
    planned = {e.agent_id: e for e in plan.entries if e.result.ok and not e.skipped}
    evaluation = apply_probe_results(
        [(e.agent_id, e.result) for e in planned.values()],
        promote_source=Source.REPROBE,
        run_id=applied.run_id,
        actor=actor,
        origin=origin,
        expected={agent_id: e.expected for agent_id, e in planned.items()},
    )
    reasons = evaluation.stale.values()
    applied.applied = len(evaluation.outcomes)
    applied.promoted = sum(1 for o in evaluation.outcomes if o.action == Action.PROMOTED)
    applied.disagreements = sum(1 for o in evaluation.outcomes if o.action == Action.DISAGREEMENT)
    applied.skipped = sum(1 for r in reasons if r == Drift.INFERENCE) + sum(1 for e in plan.entries if e.skipped)
    applied.stale = sum(1 for r in reasons if r != Drift.INFERENCE)
    return applied


@dataclass
class ReprobeReport:
    scanned: int = 0
    classified: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    still_unknown: int = 0
    still_unknown_sample: list[str] = field(default_factory=list)
    probe_failed: Counter[str] = field(default_factory=Counter)
    dns_failed: Counter[str] = field(default_factory=Counter)
    auth_required: int = 0
    preserved: int = 0
    skipped: int = 0
    elapsed: float = 0.0
    slowest: list[tuple[str, float]] = field(default_factory=list)
    # Agents whose probe ran out its deadline, by URL (the first TIMED_OUT_LISTED).
    timed_out: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, plan: ReprobePlan) -> ReprobeReport:
        report = cls(scanned=len(plan.entries), elapsed=plan.elapsed)
        for entry in plan.entries:
            if entry.skipped:
                report.skipped += 1
                continue
            kind = entry.classification
            if entry.result.error_kind == ProbeErrorKind.TIMEOUT and len(report.timed_out) < TIMED_OUT_LISTED:
                report.timed_out.append(entry.url)
            if kind == Classification.CLASSIFIED:
                report.classified[entry.inferred_after or ""] += 1
            elif kind == Classification.UNCHANGED:
                report.unchanged += 1
            elif kind == Classification.STILL_UNKNOWN:
                report.still_unknown += 1
                if len(report.still_unknown_sample) < SAMPLE_SIZE:
                    report.still_unknown_sample.append(entry.url)
            elif kind == Classification.AUTH_REQUIRED:
                report.auth_required += 1
                report.preserved += entry.had_snapshot
            else:
                (report.dns_failed if kind == Classification.DNS_FAILED else report.probe_failed)[
                    entry.result.error_kind
                ] += 1
                report.preserved += entry.had_snapshot
        slowest = sorted(plan.entries, key=lambda e: e.result.elapsed, reverse=True)[:SLOWEST]
        report.slowest = [(e.url, round(e.result.elapsed, 3)) for e in slowest]
        return report

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "classified": dict(self.classified),
            "unchanged": self.unchanged,
            "still_unknown": self.still_unknown,
            "still_unknown_sample": self.still_unknown_sample,
            "probe_failed": dict(self.probe_failed),
            "dns_failed": dict(self.dns_failed),
            "auth_required": self.auth_required,
            "preserved": self.preserved,
            "skipped": self.skipped,
            "elapsed": round(self.elapsed, 3),
            "slowest": [{"url": url, "elapsed": elapsed} for url, elapsed in self.slowest],
            "timed_out": self.timed_out,
        }

    def lines(self) -> list[str]:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {n}" for k, n in sorted(counter.items())) or "none"

        lines = [
            f"scanned: {self.scanned}",
            f"newly classified: {sum(self.classified.values())} ({counts(self.classified)})",
            f"answered, published type stays: {self.unchanged}",
            f"still unknown: {self.still_unknown}",
            *[f"  {url}" for url in self.still_unknown_sample],
            f"probe failed: {sum(self.probe_failed.values())} ({counts(self.probe_failed)})",
            f"DNS/connect failed: {sum(self.dns_failed.values())} ({counts(self.dns_failed)})",
            f"behind a login (needs credentials): {self.auth_required}",
            f"preserved (earlier snapshot kept): {self.preserved}",
            f"skipped (classified meanwhile): {self.skipped}",
            f"elapsed: {self.elapsed:.1f} s",
            f"timed out: {len(self.timed_out)}",
            *[f"  {url}" for url in self.timed_out],
            "slowest probes:",
            *[f"  {elapsed:.2f} s  {url}" for url, elapsed in self.slowest],
        ]
        return lines


class ReprobeNotApplicable(Exception):
    """The pending plan cannot be applied (already decided, or too old)."""


def stale_agent_ids(plan: ReprobePlan) -> set[int]:
    """Planned rows that no longer look as they did when probed (one query)."""
    planned = {e.agent_id: e for e in plan.entries if e.result.ok and not e.skipped}
    now = {
        pk: AgentState(type_now, inferred_now)
        for pk, type_now, inferred_now in Agent.objects.filter(pk__in=planned).values_list(
            "pk", "type", "snapshot__inferred_type"
        )
    }
    return {pk for pk, entry in planned.items() if drift(entry.expected, now.get(pk)) is not None}
