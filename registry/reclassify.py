"""Apply a reviewed list of type changes: the "apply" half of diff-before-commit.

The backfill, the reprobe and the admin review each compute their plan; all of
them apply it here. Each change is re-checked inside the transaction: an agent
whose type is no longer the plan's old type changed since the preview, and is
reported stale and left alone. A flip and its audit row commit together, in
short chunked transactions, so a run killed halfway leaves only whole flips and
running it again finishes the job.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import TypeEvent, record_many
from registry.models import Agent


@dataclass(frozen=True)
class TypeChange:
    agent_id: int
    agent_url: str
    old_type: str
    new_type: str
    member: str | None = None
    declared_type: str | None = None
    inferred_type: str | None = None
    probed_at: datetime | None = None

    @property
    def key(self) -> str:
        """Identifies the exact change a reviewer confirmed (agent, from, to)."""
        return f"{self.agent_id}:{self.old_type}:{self.new_type}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probed_at"] = self.probed_at.isoformat() if self.probed_at else None
        return data

    def event(
        self, *, source: str, run_id: uuid.UUID, actor: str, notes: dict[str, Any], new_type: str | None = None
    ) -> TypeEvent:
        """The audit row for this change (``new_type`` overrides it, e.g. a kept type)."""
        return TypeEvent(
            agent_url=self.agent_url,
            member=self.member,
            old_type=self.old_type,
            new_type=new_type or self.new_type,
            source=source,
            run_id=run_id,
            actor=actor,
            notes={**self.notes(), **notes},
        )

    def notes(self) -> dict[str, Any]:
        return {
            "declared_type": self.declared_type,
            "inferred_type": self.inferred_type,
            "probed_at": self.probed_at.isoformat() if self.probed_at else None,
        }


@dataclass
class ApplyResult:
    run_id: uuid.UUID
    flipped: list[TypeChange] = field(default_factory=list)
    stale: list[tuple[TypeChange, str]] = field(default_factory=list)  # (change, type found)


def apply_type_changes(
    changes: Sequence[TypeChange],
    *,
    source: str,
    actor: str = "",
    run_id: uuid.UUID | None = None,
    chunk_size: int = 500,
    notes: dict[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ApplyResult:
    result = ApplyResult(run_id=run_id or uuid.uuid4())
    for start in range(0, len(changes), chunk_size):
        chunk = changes[start : start + chunk_size]
        with transaction.atomic():
            current = dict(
                Agent.objects.select_for_update()
                .filter(pk__in=[c.agent_id for c in chunk])
                .order_by("pk")
                .values_list("pk", "type")
            )
            flips: list[TypeChange] = []
            for change in chunk:
                found = current.get(change.agent_id)
                if found == change.old_type:
                    flips.append(change)
                else:
                    result.stale.append((change, found or "deleted"))
            now = timezone.now()
            by_new_type: dict[str, list[int]] = defaultdict(list)
            for change in flips:
                by_new_type[change.new_type].append(change.agent_id)
            for new_type, ids in by_new_type.items():
                Agent.objects.filter(pk__in=ids).update(type=new_type, updated_at=now)
            record_many(c.event(source=source, run_id=result.run_id, actor=actor, notes=notes or {}) for c in flips)
        result.flipped.extend(flips)
        if on_progress is not None:
            on_progress(start + len(chunk), len(changes))
    return result
