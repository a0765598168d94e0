"""What a probe result does to the registry: the one type-update policy.

The crawl, the reprobe and "probe now" all call :func:`apply_probe_results`.

* success: write the snapshot; :func:`decide` what the inference does to the
  published type: promote a missing/``unknown`` type to the inferred known type
  (through the single writer, audited), record a known-vs-known disagreement once
  (audited, never flipped); inferring nothing never erases a stored type or an
  earlier inference;
* failure: keep the last good snapshot, record the error and the time;
* unknown agents back off (1, 2, 4, 7, 7, ... days) and, after 10 fruitless
  attempts, stop being scheduled (``unreachable`` or ``unclassifiable``).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, models, transaction
from django.utils import timezone

from audit.models import Notice, NoticeKind, Source, TypeEvent, record_many, write_notices
from crawler.classify import NOTHING_INFERRED, Inference, infer
from crawler.liveness import ANSWERED, OK, summaries, transition
from crawler.models import CrawlCount, ProbeRecord
from probe import ProbeResult
from probe.vocabulary import AUTH_ERROR_KINDS, ProbeErrorKind
from registry.models import Agent, CapabilitySnapshot
from registry.publish import AgentState, Drift, TypeChange, apply_type_changes, drift
from registry.types import TerminalState, is_known

logger = logging.getLogger(__name__)

BACKOFF_DAYS: tuple[int, ...] = (1, 2, 4, 7)
# A disagreement seen again within this window is not recorded again.
DISAGREEMENT_WINDOW = timedelta(days=30)
TERMINAL_AFTER_ATTEMPTS = 10

SNAPSHOT_FIELDS = [
    "inferred_by",
    "adcp_protocols",
    "adcp_versions",
    "transport",
    "protocol_version",
    "endpoint",
    "tool_names",
    "tools",
    "tools_truncated",
    "inferred_type",
    "probed_at",
    "error_kind",
    "error_message",
    "auth_required",
    "last_attempt_at",
    "unknown_attempts",
    "next_probe_after",
    "terminal_state",
    "disagreement_key",
    "disagreement_since",
    "recorded_disagreements",
    "failure_streak",
    "last_ok_at",
    "uptime_7d",
    "latency_p50_ms",
    "inferred_from",
]


class Action(models.TextChoices):
    """What a probe result does to its agent: the policy's one vocabulary."""

    PROMOTED = "promoted", "Promote the published type to the inferred one"
    DISAGREEMENT = "disagreement", "Record a new disagreement; publish nothing"
    # The inference is the published type, or a disagreement already recorded.
    CONFIRMED = "confirmed", "Nothing new: the inference confirms what is known"
    UNCLASSIFIED = "unclassified", "Answered without a known tool: nothing is erased"
    FAILED = "failed", "The probe failed: the last good snapshot stands"


@dataclass(frozen=True)
class Outcome:
    agent_id: int
    action: str
    old_type: str
    new_type: str
    inferred_type: str | None
    error_kind: str
    error_message: str = ""


@dataclass
class CrawlSummary:
    probed: int = 0
    promoted: int = 0
    disagreements: int = 0
    confirmed: int = 0
    unclassified: int = 0
    # Answered behind a login (auth_required, auth_failed): not a failure to reach.
    auth_required: int = 0
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
            elif outcome.error_kind in AUTH_ERROR_KINDS:
                self.auth_required += 1
            else:
                self.failed[outcome.error_kind] += 1
        return self

    def merge(self, other: dict[str, Any]) -> None:
        for name in (*CrawlCount.values, "confirmed"):
            setattr(self, name, getattr(self, name) + other.get(name, 0))
        self.failed.update(other.get("failed", {}))

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in (*CrawlCount.values, "confirmed")},
            "failed": dict(self.failed),
            "elapsed": round(self.elapsed, 3),
        }

    def line(self) -> str:
        counts = ", ".join(f"{getattr(self, count.value)} {count.label}" for count in CrawlCount)
        failed = ", ".join(f"{kind} {n}" for kind, n in sorted(self.failed.items())) or "none"
        return f"{counts}, failed: {failed}; {self.elapsed:.1f} s"


def next_probe_delay(attempts: int) -> timedelta:
    return timedelta(days=BACKOFF_DAYS[min(attempts, len(BACKOFF_DAYS)) - 1])


@dataclass(frozen=True)
class TypeDecision:
    action: Action
    # The open disagreement the snapshot records after this probe ("" for none).
    disagreement_key: str


def decide(
    published: str,
    inferred: str | None,
    disagreement_key: str,
    *,
    answered: bool = True,
    recorded: Collection[str] = (),
) -> TypeDecision:
    """What a probe's inference does to the published type: the policy's one rule (pure).

    ``recorded`` holds the disagreements recorded within DISAGREEMENT_WINDOW: one of
    them seen again is the open disagreement, not a new one."""
    if not answered:
        return TypeDecision(Action.FAILED, disagreement_key)
    if inferred is None:
        # Inferring nothing never erases a type, nor an open disagreement.
        return TypeDecision(Action.UNCLASSIFIED, disagreement_key)
    if not is_known(published):
        return TypeDecision(Action.PROMOTED, disagreement_key)
    if published == inferred:
        return TypeDecision(Action.CONFIRMED, "")
    key = f"{published}->{inferred}"
    if key == disagreement_key or key in recorded:
        return TypeDecision(Action.CONFIRMED, key)
    return TypeDecision(Action.DISAGREEMENT, key)


def _update_snapshot(snapshot: CapabilitySnapshot, result: ProbeResult, inference: Inference, now: datetime) -> None:
    snapshot.last_attempt_at = now
    if not result.ok:
        # Keep the last good snapshot; only the failure is new.
        snapshot.error_kind = result.error_kind
        snapshot.error_message = result.error_message
        snapshot.auth_required = result.error_kind in AUTH_ERROR_KINDS
        return
    snapshot.error_kind, snapshot.error_message, snapshot.auth_required = "", "", False
    snapshot.transport, snapshot.protocol_version, snapshot.endpoint = (
        result.transport,
        result.protocol_version,
        result.endpoint,
    )
    if inference.type is not None or snapshot.inferred_type is None:
        snapshot.tool_names = result.tool_names
        snapshot.tools = result.tools
        snapshot.tools_truncated = result.tools_truncated
        snapshot.inferred_type = inference.type
        snapshot.inferred_from = inference.evidence
        snapshot.inferred_by = inference.source if inference.type else ""
        snapshot.adcp_protocols = result.adcp_protocols
        snapshot.adcp_versions = ",".join(result.adcp_versions)
        snapshot.probed_at = now
    # else: an agent that showed known tools before and none now keeps its
    # earlier inference and the tools that made it.


def _update_backoff(snapshot: CapabilitySnapshot, published: str, result: ProbeResult, now: datetime) -> None:
    if is_known(published):
        # Agents with a known type are probed every crawl, never put on backoff.
        snapshot.unknown_attempts, snapshot.next_probe_after, snapshot.terminal_state = 0, None, ""
        return
    snapshot.unknown_attempts += 1
    answered = result.ok
    if result.error_kind in AUTH_ERROR_KINDS:
        # A login wall answered: never given up, probed on the slow backoff so
        # one that opens up (or gets credentials) is classified.
        snapshot.terminal_state = ""
        snapshot.next_probe_after = now + next_probe_delay(len(BACKOFF_DAYS))
        return
    if snapshot.unknown_attempts >= TERMINAL_AFTER_ATTEMPTS:
        snapshot.terminal_state = TerminalState.UNCLASSIFIABLE if answered else TerminalState.UNREACHABLE
        snapshot.next_probe_after = None
    else:
        snapshot.next_probe_after = now + next_probe_delay(snapshot.unknown_attempts)


@dataclass
class Evaluation:
    outcomes: list[Outcome] = field(default_factory=list)
    promotions: list[TypeChange] = field(default_factory=list)
    disagreements: list[TypeEvent] = field(default_factory=list)
    # The agents' state as loaded, which the promotions expect to find.
    found: dict[int, AgentState] = field(default_factory=dict)
    # New and changed snapshots alike, written in one upsert.
    snapshots: list[CapabilitySnapshot] = field(default_factory=list)
    # Planned results not applied because their agent moved since the plan.
    stale: dict[int, Drift] = field(default_factory=dict)
    # Events that are not type changes: an agent given up, found behind a login, gone offline or back.
    notices: list[Notice] = field(default_factory=list)
    # The probe history's rows of this batch.
    records: list[ProbeRecord] = field(default_factory=list)

    def extend(self, other: Evaluation) -> None:
        self.outcomes += other.outcomes
        self.promotions += other.promotions
        self.disagreements += other.disagreements
        self.found.update(other.found)
        self.snapshots += other.snapshots
        self.stale.update(other.stale)
        self.notices += other.notices
        self.records += other.records


@dataclass(frozen=True)
class _Run:
    """What one application of probe results is done under."""

    promote_source: str = Source.CRAWLER_PROMOTE
    run_id: uuid.UUID | None = None
    actor: str = ""
    now: datetime = field(default_factory=timezone.now)
    # What a caller that planned earlier saw of each agent (crawler.reprobe).
    expected: Mapping[int, AgentState] | None = None
    # Where a run a person started came from (the audit row says so beside the actor).
    origin: str = ""


def _evaluate(
    agents: dict[int, Agent],
    snapshots: dict[int, CapabilitySnapshot],
    results: Sequence[tuple[int, ProbeResult]],
    run: _Run,
) -> Evaluation:
    """Decide, in memory, what the results do to these rows (nothing is written here)."""
    evaluation = Evaluation()
    for agent_id, result in results:
        agent = agents.get(agent_id)
        snapshot = snapshots.get(agent_id)
        found = None if agent is None else AgentState(agent.type, snapshot.inferred_type if snapshot else None)
        if run.expected is not None and (reason := drift(run.expected[agent_id], found)) is not None:
            evaluation.stale[agent_id] = reason
            continue
        if agent is None or found is None:  # deleted since it was selected
            continue
        evaluation.found[agent_id] = found
        if snapshot is None:
            snapshot = snapshots[agent_id] = CapabilitySnapshot(agent=agent)
        evaluation.snapshots.append(snapshot)
        _evaluate_one(agent, snapshot, result, run, evaluation)
    return evaluation


def _evaluate_one(
    agent: Agent, snapshot: CapabilitySnapshot, result: ProbeResult, run: _Run, evaluation: Evaluation
) -> None:
    """The policy for one agent, in DESIGN.md's order: infer, decide, then what follows."""
    was_given_up, was_walled = bool(snapshot.terminal_state), snapshot.auth_required
    availability = _record_availability(snapshot, result, run.now)
    evaluation.records.append(_record(agent, result, run.now))
    inference = infer(result.tool_names, result.adcp_protocols) if result.ok else NOTHING_INFERRED
    recorded = _recent_disagreements(snapshot, run.now)
    decision = decide(agent.type, inference.type, snapshot.disagreement_key, answered=result.ok, recorded=recorded)
    new_type = inference.type if decision.action == Action.PROMOTED and inference.type else agent.type
    _update_snapshot(snapshot, result, inference, run.now)
    _update_disagreement(snapshot, decision, run.now)
    _update_backoff(snapshot, new_type, result, run.now)
    evaluation.notices += _news(agent, snapshot, result, was_given_up=was_given_up, was_walled=was_walled)
    if availability:
        evaluation.notices.append(
            Notice(
                kind=availability,
                agent_url=agent.url,
                member=_member(agent),
                payload={"failure_streak": snapshot.failure_streak, "error_kind": result.error_kind},
            )
        )
    if decision.action == Action.PROMOTED:
        evaluation.promotions.append(_promotion(agent, new_type, inference, result, run))
    elif decision.action == Action.DISAGREEMENT:
        evaluation.disagreements.append(_disagreement(agent, inference, result, run))
    evaluation.outcomes.append(
        Outcome(
            agent_id=agent.pk,
            action=decision.action,
            old_type=agent.type,
            new_type=new_type,
            inferred_type=inference.type,
            error_kind=result.error_kind,
            error_message=result.error_message,
        )
    )


def _recent_disagreements(snapshot: CapabilitySnapshot, now: datetime) -> dict[str, str]:
    since = (now - DISAGREEMENT_WINDOW).isoformat()
    return {key: at for key, at in (snapshot.recorded_disagreements or {}).items() if at >= since}


def _record(agent: Agent, result: ProbeResult, now: datetime) -> ProbeRecord:
    return ProbeRecord(
        agent_id=agent.pk,
        probed_at=now,
        outcome=result.error_kind or OK,
        latency_ms=round(result.elapsed * 1000),
        transport=result.transport,
        protocol_version=result.protocol_version[:32],
        tool_count=len(result.tool_names),
    )


def _record_availability(snapshot: CapabilitySnapshot, result: ProbeResult, now: datetime) -> str:
    """Update the streak and the last answer; the availability event this probe makes, if any."""
    answered = (result.error_kind or OK) in ANSWERED
    event = transition(snapshot.failure_streak, snapshot.last_ok_at is not None, answered)
    snapshot.failure_streak = 0 if answered else snapshot.failure_streak + 1
    if answered:
        snapshot.last_ok_at = now
    return event


def _update_disagreement(snapshot: CapabilitySnapshot, decision: TypeDecision, now: datetime) -> None:
    recent = _recent_disagreements(snapshot, now)
    if decision.action == Action.DISAGREEMENT:
        recent[decision.disagreement_key] = now.isoformat()
    if recent != snapshot.recorded_disagreements:
        snapshot.recorded_disagreements = recent
    if decision.disagreement_key != snapshot.disagreement_key:
        snapshot.disagreement_key = decision.disagreement_key
        snapshot.disagreement_since = now if decision.disagreement_key else None


def _member(agent: Agent) -> str | None:
    return agent.registration.profile.slug if hasattr(agent, "registration") else None


def _news(
    agent: Agent, snapshot: CapabilitySnapshot, result: ProbeResult, *, was_given_up: bool, was_walled: bool
) -> list[Notice]:
    """Events that are not type changes: the agent was given up, or found behind a login."""
    news: list[tuple[NoticeKind, dict[str, Any]]] = []
    if snapshot.terminal_state and not was_given_up:
        news.append(
            (NoticeKind.GIVEN_UP, {"terminal_state": snapshot.terminal_state, "attempts": snapshot.unknown_attempts})
        )
    if snapshot.auth_required and not was_walled:
        news.append(
            (NoticeKind.AUTH_REQUIRED, {"error_kind": result.error_kind, "error_message": result.error_message})
        )
    return [Notice(kind=kind, agent_url=agent.url, member=_member(agent), payload=payload) for kind, payload in news]


def _notes(inference: Inference, result: ProbeResult, run: _Run) -> dict[str, Any]:
    """What the audit row keeps of the probe that decided."""
    return {
        "inferred_type": inference.type,
        "inferred_by": inference.source if inference.type else None,
        "tool_names": inference.evidence,
        "probe_elapsed": round(result.elapsed, 3),
        **({"origin": run.origin} if run.origin else {}),
    }


def _promotion(agent: Agent, new_type: str, inference: Inference, result: ProbeResult, run: _Run) -> TypeChange:
    member = _member(agent)
    return TypeChange(
        agent_id=agent.pk,
        agent_url=agent.url,
        old_type=agent.type,
        new_type=new_type,
        member=member,
        declared_type=agent.registration.declared_type if member else None,
        inferred_type=inference.type,
        probed_at=run.now,
        depends_on_inference=False,
        notes=_notes(inference, result, run),
    )


def _disagreement(agent: Agent, inference: Inference, result: ProbeResult, run: _Run) -> TypeEvent:
    return TypeEvent(
        agent_url=agent.url,
        new_type=inference.type or "",
        source=Source.CRAWLER_DISAGREEMENT,
        old_type=agent.type,
        member=_member(agent),
        run_id=run.run_id,
        actor=run.actor,
        notes=_notes(inference, result, run),
    )


def _load(ids: list[int], *, lock: bool) -> tuple[dict[int, Agent], dict[int, CapabilitySnapshot]]:
    agents_qs = Agent.objects.select_related("registration__profile").filter(pk__in=ids)
    agents_qs = agents_qs.locked() if lock else agents_qs.order_by("pk")
    agents = {a.pk: a for a in agents_qs}
    # Snapshots in a second statement, after the locks: a snapshot created by a
    # concurrent writer we waited for is then seen, not created twice.
    snapshots = {s.agent_id: s for s in CapabilitySnapshot.objects.filter(agent_id__in=ids)}
    return agents, snapshots


def preview_probe_results(results: Sequence[tuple[int, ProbeResult]]) -> list[Outcome]:
    """What :func:`apply_probe_results` would do, without writing anything."""
    agents, snapshots = _load([agent_id for agent_id, _ in results], lock=False)
    return _evaluate(agents, snapshots, results, _Run()).outcomes


def apply_probe_results(
    results: Sequence[tuple[int, ProbeResult]],
    *,
    promote_source: str = Source.CRAWLER_PROMOTE,
    run_id: uuid.UUID | None = None,
    actor: str = "",
    now: datetime | None = None,
    expected: Mapping[int, AgentState] | None = None,
    origin: str = "",
) -> Evaluation:
    """Apply probe results to their agents in one transaction with batched writes.

    ``expected`` is what a caller that planned earlier saw of each agent (see
    crawler.reprobe): a result whose agent has drifted since is not applied and
    is reported in ``Evaluation.stale``.

    One agent's unstorable result never costs the others theirs: when a batch
    fails to write, its results are written one agent at a time, and an agent
    whose result still fails is recorded with that failure as its probe error.
    A database that cannot be reached fails the batch, for the job to retry.
    """
    return _apply_isolated(results, _Run(promote_source, run_id, actor, now or timezone.now(), expected, origin))


def _apply_isolated(results: Sequence[tuple[int, ProbeResult]], run: _Run) -> Evaluation:
    try:
        return _apply_batch(results, run)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        if len(results) > 1:
            logger.warning("a batch of %d probe results failed to write; writing them one by one", len(results))
            evaluation = Evaluation()
            for pair in results:
                evaluation.extend(_apply_isolated([pair], run))
            return evaluation
        [(agent_id, result)] = results
        logger.warning("the probe result of agent %s could not be stored", agent_id, exc_info=exc)
        unstorable = ProbeResult(
            url=result.url,
            protocol=result.protocol,
            elapsed=result.elapsed,
            error_kind=ProbeErrorKind.PROTOCOL,
            error_message=f"the agent's reply could not be stored ({type(exc).__name__})",
        )
        return _apply_batch([(agent_id, unstorable)], run)


def _apply_batch(results: Sequence[tuple[int, ProbeResult]], run: _Run) -> Evaluation:
    with transaction.atomic():
        agents, snapshots = _load([agent_id for agent_id, _ in results], lock=True)
        evaluation = _evaluate(agents, snapshots, results, run)
        ProbeRecord.objects.bulk_create(evaluation.records)
        figures = summaries(list(evaluation.found), run.now)
        for snapshot in evaluation.snapshots:
            snapshot.uptime_7d, snapshot.latency_p50_ms = figures.get(snapshot.agent_id, (None, None))
        # One INSERT ... ON CONFLICT for new and changed snapshots alike: bulk_update's
        # CASE per field and row cost more CPU than the probes of a whole batch.
        CapabilitySnapshot.objects.bulk_create(
            evaluation.snapshots,
            update_conflicts=True,
            unique_fields=["agent"],
            update_fields=SNAPSHOT_FIELDS,
        )
        apply_type_changes(
            evaluation.promotions, source=run.promote_source, actor=run.actor, run_id=run.run_id, found=evaluation.found
        )
        record_many(evaluation.disagreements)
        write_notices(evaluation.notices)
    return evaluation
