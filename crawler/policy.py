"""What a probe result does to the registry: the one type-update policy.

The crawl, the reprobe and "probe now" all call :func:`apply_probe_results`.

* success: write the snapshot; promote a missing/``unknown`` type to the inferred
  known type (audited); record a known-vs-known disagreement once (audited, never
  flipped); inferring nothing never erases a stored type or an earlier inference;
* failure: keep the last good snapshot, record the error and the time;
* unknown agents back off (1, 2, 4, 7, 7, ... days) and, after 10 fruitless
  attempts, stop being scheduled (``unreachable`` or ``unclassifiable``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Source, TypeEvent, record_many
from crawler.classify import classify, evidence_for
from crawler.probe import ProbeResult
from registry.models import Agent, CapabilitySnapshot
from registry.types import ProbeErrorKind, TerminalState, is_known

BACKOFF_DAYS: tuple[int, ...] = (1, 2, 4, 7)
TERMINAL_AFTER_ATTEMPTS = 10

SNAPSHOT_FIELDS = [
    "tool_names",
    "tools",
    "inferred_type",
    "probed_at",
    "error_kind",
    "error_message",
    "oauth_required",
    "last_attempt_at",
    "unknown_attempts",
    "next_probe_after",
    "terminal_state",
    "disagreement_key",
    "disagreement_since",
    "inferred_from",
]


class Action:
    PROMOTED = "promoted"
    DISAGREEMENT = "disagreement"
    CONFIRMED = "confirmed"  # inferred the stored type, or a known type already disagreed about
    UNCLASSIFIED = "unclassified"  # answered, no known tool
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    agent_id: int
    action: str
    old_type: str
    new_type: str
    inferred_type: str | None
    error_kind: str


@dataclass
class CrawlSummary:
    probed: int = 0
    promoted: int = 0
    disagreements: int = 0
    confirmed: int = 0
    unclassified: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def add(self, outcomes: Sequence[Outcome]) -> CrawlSummary:
        for outcome in outcomes:
            self.probed += 1
            if outcome.action == Action.PROMOTED:
                self.promoted += 1
            elif outcome.action == Action.DISAGREEMENT:
                self.disagreements += 1
            elif outcome.action == Action.CONFIRMED:
                self.confirmed += 1
            elif outcome.action == Action.UNCLASSIFIED:
                self.unclassified += 1
            else:
                self.failed[outcome.error_kind] += 1
        return self

    def merge(self, other: dict[str, Any]) -> None:
        for name in ("probed", "promoted", "disagreements", "confirmed", "unclassified"):
            setattr(self, name, getattr(self, name) + other.get(name, 0))
        self.failed.update(other.get("failed", {}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "probed": self.probed,
            "promoted": self.promoted,
            "disagreements": self.disagreements,
            "confirmed": self.confirmed,
            "unclassified": self.unclassified,
            "failed": dict(self.failed),
            "elapsed": round(self.elapsed, 3),
        }

    def line(self) -> str:
        failed = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failed.items())) or "none"
        return (
            f"{self.probed} probed, {self.promoted} promoted, {self.disagreements} new disagreements, "
            f"{self.unclassified} answered without a known tool, failed: {failed}; {self.elapsed:.1f} s"
        )


def next_probe_delay(attempts: int) -> timedelta:
    return timedelta(days=BACKOFF_DAYS[min(attempts, len(BACKOFF_DAYS)) - 1])


def _apply_one(
    agent: Agent,
    snapshot: CapabilitySnapshot,
    result: ProbeResult,
    now: datetime,
    *,
    promote_source: str,
    run_id: uuid.UUID | None,
    actor: str,
) -> tuple[Outcome, list[TypeEvent]]:
    old_type = agent.type
    events: list[TypeEvent] = []
    member = agent.registration.profile.slug if hasattr(agent, "registration") else None
    snapshot.last_attempt_at = now

    inferred = classify(result.tool_names) if result.ok else None
    evidence = evidence_for(result.tool_names, inferred)
    if not result.ok:
        # Keep the last good snapshot; only the failure is new.
        snapshot.error_kind = result.error_kind
        snapshot.error_message = result.error_message
        snapshot.oauth_required = result.error_kind == ProbeErrorKind.OAUTH_REQUIRED
        action = Action.FAILED
    else:
        snapshot.error_kind, snapshot.error_message, snapshot.oauth_required = "", "", False
        if inferred is not None or snapshot.inferred_type is None:
            snapshot.tool_names = result.tool_names
            snapshot.tools = result.tools
            snapshot.inferred_type = inferred
            snapshot.inferred_from = evidence
            snapshot.probed_at = now
        # else: an agent that showed known tools before and none now keeps its
        # earlier inference and the tools that made it.
        action = Action.UNCLASSIFIED if inferred is None else Action.CONFIRMED

    notes = {
        "inferred_type": inferred,
        "tool_names": evidence,
        "probe_elapsed": round(result.elapsed, 3),
    }
    if inferred is not None and not is_known(agent.type):
        agent.type = inferred
        action = Action.PROMOTED
        events.append(TypeEvent(agent.url, inferred, promote_source, old_type, member, run_id, actor, notes))
    elif inferred is not None and agent.type != inferred:
        key = f"{agent.type}->{inferred}"
        if snapshot.disagreement_key != key:
            snapshot.disagreement_key, snapshot.disagreement_since = key, now
            action = Action.DISAGREEMENT
            events.append(
                TypeEvent(agent.url, inferred, Source.CRAWLER_DISAGREEMENT, agent.type, member, run_id, actor, notes)
            )
    elif inferred is not None:
        snapshot.disagreement_key, snapshot.disagreement_since = "", None

    if is_known(agent.type):
        # Agents with a known type are probed every crawl, never put on backoff.
        snapshot.unknown_attempts, snapshot.next_probe_after, snapshot.terminal_state = 0, None, ""
    else:
        snapshot.unknown_attempts += 1
        if snapshot.unknown_attempts >= TERMINAL_AFTER_ATTEMPTS:
            snapshot.terminal_state = TerminalState.UNCLASSIFIABLE if result.ok else TerminalState.UNREACHABLE
            snapshot.next_probe_after = None
        else:
            snapshot.next_probe_after = now + next_probe_delay(snapshot.unknown_attempts)

    outcome = Outcome(
        agent_id=agent.pk,
        action=action,
        old_type=old_type,
        new_type=agent.type,
        inferred_type=inferred,
        error_kind=result.error_kind,
    )
    return outcome, events


@dataclass
class Evaluation:
    outcomes: list[Outcome] = field(default_factory=list)
    events: list[TypeEvent] = field(default_factory=list)
    new_snapshots: list[CapabilitySnapshot] = field(default_factory=list)
    changed_snapshots: list[CapabilitySnapshot] = field(default_factory=list)
    changed_agents: list[Agent] = field(default_factory=list)


def _evaluate(
    agents: dict[int, Agent],
    snapshots: dict[int, CapabilitySnapshot],
    results: Sequence[tuple[int, ProbeResult]],
    *,
    promote_source: str,
    run_id: uuid.UUID | None,
    actor: str,
    now: datetime,
    expect: Callable[[Agent, CapabilitySnapshot | None], bool] | None,
) -> Evaluation:
    """Decide, in memory, what the results do to these rows (nothing is written here)."""
    evaluation = Evaluation()
    for agent_id, result in results:
        agent = agents.get(agent_id)
        if agent is None:  # deleted since it was selected
            continue
        snapshot = snapshots.get(agent_id)
        if expect is not None and not expect(agent, snapshot):
            continue
        if snapshot is None:
            snapshot = snapshots[agent_id] = CapabilitySnapshot(agent=agent)
            evaluation.new_snapshots.append(snapshot)
        else:
            evaluation.changed_snapshots.append(snapshot)
        outcome, events = _apply_one(
            agent, snapshot, result, now, promote_source=promote_source, run_id=run_id, actor=actor
        )
        evaluation.outcomes.append(outcome)
        evaluation.events.extend(events)
        if outcome.new_type != outcome.old_type:
            agent.updated_at = now
            evaluation.changed_agents.append(agent)
    return evaluation


def _load(ids: list[int], *, lock: bool) -> tuple[dict[int, Agent], dict[int, CapabilitySnapshot]]:
    agents_qs = Agent.objects.select_related("registration__profile").filter(pk__in=ids).order_by("pk")
    if lock:
        agents_qs = agents_qs.select_for_update(of=("self",))
    agents = {a.pk: a for a in agents_qs}
    # Snapshots in a second statement, after the locks: a snapshot created by a
    # concurrent writer we waited for is then seen, not created twice.
    snapshots = {s.agent_id: s for s in CapabilitySnapshot.objects.filter(agent_id__in=ids)}
    return agents, snapshots


def preview_probe_results(
    results: Sequence[tuple[int, ProbeResult]], *, promote_source: str = Source.CRAWLER_PROMOTE
) -> list[Outcome]:
    """What :func:`apply_probe_results` would do, without writing anything."""
    agents, snapshots = _load([agent_id for agent_id, _ in results], lock=False)
    return _evaluate(
        agents,
        snapshots,
        results,
        promote_source=promote_source,
        run_id=None,
        actor="",
        now=timezone.now(),
        expect=None,
    ).outcomes


def apply_probe_results(
    results: Sequence[tuple[int, ProbeResult]],
    *,
    promote_source: str = Source.CRAWLER_PROMOTE,
    run_id: uuid.UUID | None = None,
    actor: str = "",
    now: datetime | None = None,
    expect: Callable[[Agent, CapabilitySnapshot | None], bool] | None = None,
) -> Evaluation:
    """Apply probe results to their agents in one transaction with batched writes.

    ``expect(agent, snapshot)``, checked under the row lock, lets a caller that
    planned earlier skip rows that changed since (see crawler.reprobe).
    """
    now = now or timezone.now()
    with transaction.atomic():
        agents, snapshots = _load([agent_id for agent_id, _ in results], lock=True)
        evaluation = _evaluate(
            agents,
            snapshots,
            results,
            promote_source=promote_source,
            run_id=run_id,
            actor=actor,
            now=now,
            expect=expect,
        )
        CapabilitySnapshot.objects.bulk_create(evaluation.new_snapshots)
        if evaluation.changed_snapshots:
            CapabilitySnapshot.objects.bulk_update(evaluation.changed_snapshots, SNAPSHOT_FIELDS, batch_size=500)
        if evaluation.changed_agents:
            Agent.objects.bulk_update(evaluation.changed_agents, ["type", "updated_at"], batch_size=500)
        record_many(evaluation.events)
    return evaluation
