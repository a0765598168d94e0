"""The single writer of the published type: :func:`apply_type_changes`.

Every path that changes what the registry publishes for an agent — member writes,
crawler promotion, review adoption, the backfill, the reprobe — and a reviewer's
decision to keep it, hands this module a list of :class:`TypeChange`, each with what
its planner expected to find. Under the agents' row locks (taken in primary-key
order by :meth:`registry.models.AgentQuerySet.locked`), a change whose agent no
longer looks as planned is stale (:func:`drift`, the one definition) and is skipped
and reported, never overwritten; the others are written together with their audit
rows in one transaction, so a flip without its audit row cannot exist. Long plans
are applied in short chunked transactions: a run killed halfway leaves only whole
flips, and running the same plan again finishes the job.

Nothing else assigns or bulk-updates ``Agent.type``; ``Agent.save()`` refuses to.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db import models, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from audit.models import TypeEvent, record_many
from registry.models import Agent
from registry.types import is_known

CHUNK_SIZE = 500


class Decision(models.TextChoices):
    PUBLISH = "publish", "Publish the new type"
    KEEP = "keep", "Keep the published type against the inference"


class ChangeKind(models.TextChoices):
    """What a change does to what the registry tells the world."""

    PROMOTION = "promotion", "promotion (unknown to known)"
    CORRECTION = "correction", "correction (known to another known)"
    DEMOTION = "demotion", "demotion (known to unknown)"
    NONE = "none", "no change of type"


def change_kind(old_type: str | None, new_type: str) -> ChangeKind:
    old_known, new_known = is_known(old_type), is_known(new_type)
    if old_type == new_type:
        return ChangeKind.NONE
    if new_known:
        return ChangeKind.CORRECTION if old_known else ChangeKind.PROMOTION
    return ChangeKind.DEMOTION if old_known else ChangeKind.NONE


class Drift(models.TextChoices):
    """How an agent moved since a plan was made: the reason a change is stale."""

    DELETED = "deleted", "agent deleted"
    INFERENCE = "inference", "inferred type changed"
    TYPE = "type", "published type changed"


@dataclass(frozen=True)
class AgentState:
    """What decides a type change: the published type and the probe's inference."""

    type: str
    inferred_type: str | None


def drift(expected: AgentState, found: AgentState | None, *, checks_inference: bool = True) -> Drift | None:
    """Why a row no longer matches what a planner saw, or ``None`` when it still does."""
    if found is None:
        return Drift.DELETED
    if checks_inference and found.inferred_type != expected.inferred_type:
        return Drift.INFERENCE
    if found.type != expected.type:
        return Drift.TYPE
    return None


def locked_states(agent_ids: Iterable[int]) -> dict[int, AgentState]:
    """Lock these agents (primary-key order) and read their state, in one query."""
    rows = Agent.objects.filter(pk__in=list(agent_ids)).locked().values_list("pk", "type", "snapshot__inferred_type")
    return {pk: AgentState(type, inferred) for pk, type, inferred in rows}


@dataclass(frozen=True)
class TypeChange:
    """One planned change of an agent's published type (or, for a keep, of nothing)."""

    agent_id: int
    agent_url: str
    old_type: str  # the published type the planner saw
    new_type: str
    member: str | None = None
    declared_type: str | None = None
    inferred_type: str | None = None
    probed_at: datetime | None = None
    # False when the planner's inference is being replaced in the same
    # transaction (a crawler promotion), so only the published type is expected.
    depends_on_inference: bool = True
    # Why, in the planner's terms: merged into the audit row's notes.
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identifies the exact change a reviewer confirmed (agent, from, to)."""
        return f"{self.agent_id}:{self.old_type}:{self.new_type}"

    @property
    def expected(self) -> AgentState:
        return AgentState(self.old_type, self.inferred_type)

    @property
    def kind(self) -> ChangeKind:
        return change_kind(self.old_type, self.new_type)

    def drift(self, found: AgentState | None) -> Drift | None:
        return drift(self.expected, found, checks_inference=self.depends_on_inference)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probed_at"] = self.probed_at.isoformat() if self.probed_at else None
        data["notes"] = dict(self.notes)
        data["kind"] = self.kind.value
        return data

    def event(
        self, *, decision: Decision, source: str, run_id: uuid.UUID, actor: str, notes: Mapping[str, Any]
    ) -> TypeEvent:
        """The audit row of this change; a keep records the type that stands."""
        context = {
            "declared_type": self.declared_type,
            "inferred_type": self.inferred_type,
            "probed_at": self.probed_at.isoformat() if self.probed_at else None,
        }
        return TypeEvent(
            agent_url=self.agent_url,
            member=self.member,
            old_type=self.old_type,
            new_type=self.old_type if decision == Decision.KEEP else self.new_type,
            source=source,
            run_id=run_id,
            actor=actor,
            notes={**context, **self.notes, **notes},
        )


class StaleChange(NamedTuple):
    change: TypeChange
    found: str  # what the agent shows now instead of what the plan expected

    @property
    def why(self) -> str:
        return f"expected {self.change.old_type}, found {self.found}"


@dataclass
class ApplyResult:
    run_id: uuid.UUID
    decision: Decision = Decision.PUBLISH
    # The changes written (for a keep, the agents whose type was kept).
    applied: list[TypeChange] = field(default_factory=list)
    stale: list[StaleChange] = field(default_factory=list)


def _found(reason: Drift, state: AgentState | None) -> str:
    if state is None:
        return "deleted"
    if reason == Drift.INFERENCE:
        return f"inferred {state.inferred_type or 'nothing'}"
    return state.type


def _by_pk(changes: Sequence[TypeChange], value: Callable[[TypeChange], str | None]) -> Case:
    return Case(*[When(pk=c.agent_id, then=Value(value(c))) for c in changes])


def apply_type_changes(
    changes: Sequence[TypeChange],
    *,
    source: str,
    actor: str = "",
    run_id: uuid.UUID | None = None,
    decision: Decision = Decision.PUBLISH,
    notes: Mapping[str, Any] | None = None,
    found: Mapping[int, AgentState] | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> ApplyResult:
    """Apply the changes that still hold, audited; report the stale ones.

    ``found`` is the agents' state read under locks the caller's transaction
    already holds (member writes and the crawler lock before they plan); without
    it each chunk takes the locks itself.
    """
    result = ApplyResult(run_id=run_id or uuid.uuid4(), decision=decision)
    for start in range(0, len(changes), chunk_size):
        chunk = changes[start : start + chunk_size]
        with _transaction(found):
            states = found if found is not None else locked_states(c.agent_id for c in chunk)
            fresh: list[TypeChange] = []
            for change in chunk:
                state = states.get(change.agent_id)
                reason = change.drift(state)
                if reason is None:
                    fresh.append(change)
                else:
                    result.stale.append(StaleChange(change, _found(reason, state)))
            _write(fresh, decision=decision, actor=actor)
            record_many(
                c.event(decision=decision, source=source, run_id=result.run_id, actor=actor, notes=notes or {})
                for c in fresh
            )
        result.applied.extend(fresh)
        if on_progress is not None:
            on_progress(start + len(chunk), len(changes))
    return result


def _transaction(found: Mapping[int, AgentState] | None) -> AbstractContextManager[Any]:
    if found is None:
        return transaction.atomic()
    # The caller read ``found`` under its locks: its transaction is the one to join.
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_type_changes(found=...) needs the transaction that holds the agents' locks.")
    return nullcontext()


def _write(changes: list[TypeChange], *, decision: Decision, actor: str) -> None:
    if not changes:
        return
    agents = Agent.objects.filter(pk__in=[c.agent_id for c in changes])
    now = timezone.now()
    if decision == Decision.KEEP:
        agents.update(
            review_kept_inferred=_by_pk(changes, lambda c: c.inferred_type), review_kept_by=actor, review_kept_at=now
        )
    else:
        agents.update(type=_by_pk(changes, lambda c: c.new_type), updated_at=now)


def show_applied(agent: Agent, result: ApplyResult) -> None:
    """Mirror an applied change onto an instance the caller holds, without a query."""
    if result.decision != Decision.PUBLISH:
        return
    for change in result.applied:
        if change.agent_id == agent.pk:
            agent.type = change.new_type
            agent.mark_type_loaded()
