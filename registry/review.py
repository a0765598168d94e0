"""Disagreement review: adopt the inferred type, or keep the published one.

Both are two-step (the admin shows the plan first) and both re-check each agent
under its row lock when applied: a row whose type or inference changed since the
reviewer looked is skipped as stale, never overwritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from audit.models import Source, record_many
from registry.models import Agent
from registry.reclassify import ApplyResult, TypeChange, apply_type_changes


def review_plan(agent_ids: Iterable[int]) -> list[TypeChange]:
    """The open disagreements among these agents, as published -> inferred changes."""
    agents = (
        Agent.objects.open_disagreements()
        .filter(pk__in=list(agent_ids))
        .select_related("snapshot", "registration__profile")
        .order_by("url")
    )
    return [
        TypeChange(
            agent_id=a.pk,
            agent_url=a.url,
            old_type=a.type,
            new_type=a.snapshot.inferred_type or "",
            member=a.registration.profile.slug if hasattr(a, "registration") else None,
            declared_type=a.registration.declared_type if hasattr(a, "registration") else None,
            inferred_type=a.snapshot.inferred_type,
            probed_at=a.snapshot.probed_at,
        )
        for a in agents
    ]


def confirmed(plan: list[TypeChange], keys: Iterable[str]) -> tuple[list[TypeChange], int]:
    """The changes a reviewer confirmed that still hold now, and how many no longer do."""
    wanted = set(keys)
    still = [c for c in plan if c.key in wanted]
    return still, len(wanted) - len(still)


def adopt_inferred(changes: list[TypeChange], *, actor: str, note: str = "") -> ApplyResult:
    return apply_type_changes(
        changes, source=Source.ADMIN_REVIEW, actor=actor, notes={"decision": "adopt_inferred", "note": note}
    )


def keep_published(changes: list[TypeChange], *, actor: str, note: str = "") -> ApplyResult:
    """Record that the published type stands against the inference the reviewer saw."""
    result = ApplyResult(run_id=uuid.uuid4())
    with transaction.atomic():
        current = {
            a.pk: a
            for a in Agent.objects.select_for_update(of=("self",))
            .select_related("snapshot")
            .filter(pk__in=[c.agent_id for c in changes])
            .order_by("pk")
        }
        now = timezone.now()
        kept: list[TypeChange] = []
        for change in changes:
            agent = current.get(change.agent_id)
            inferred_now = getattr(getattr(agent, "snapshot", None), "inferred_type", None)
            if agent is None or agent.type != change.old_type or inferred_now != change.new_type:
                result.stale.append((change, agent.type if agent else "deleted"))
                continue
            agent.review_kept_inferred, agent.review_kept_by, agent.review_kept_at = change.new_type, actor, now
            kept.append(change)
        Agent.objects.bulk_update(
            [current[c.agent_id] for c in kept], ["review_kept_inferred", "review_kept_by", "review_kept_at"]
        )
        decision = {"decision": "keep_published", "note": note}
        record_many(
            c.event(source=Source.ADMIN_REVIEW, run_id=result.run_id, actor=actor, notes=decision, new_type=c.old_type)
            for c in kept
        )
    result.flipped = kept
    return result
