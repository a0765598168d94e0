"""Disagreement review: adopt the inferred type, or keep the published one.

Both are planned first (the admin shows the plan) and applied through the single
writer, which re-checks each agent under its row lock: a row whose published type
or inference changed since the reviewer looked is stale, skipped, never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable

from audit.models import ReviewDecision, Source
from registry.models import Agent
from registry.publish import ApplyResult, Decision, TypeChange, apply_type_changes


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
            # What the reviewer saw: the confirmation page and the audit row show it.
            notes={"tool_names": a.snapshot.inferred_from},
        )
        for a in agents
    ]


def adopt_inferred(changes: list[TypeChange], *, actor: str, note: str = "") -> ApplyResult:
    """Publish the inferred type the reviewer saw."""
    return apply_type_changes(
        changes,
        source=Source.ADMIN_REVIEW,
        actor=actor,
        notes={"decision": ReviewDecision.ADOPT_INFERRED, "note": note},
    )


def keep_published(changes: list[TypeChange], *, actor: str, note: str = "") -> ApplyResult:
    """Record that the published type stands against the inference the reviewer saw."""
    return apply_type_changes(
        changes,
        source=Source.ADMIN_REVIEW,
        actor=actor,
        decision=Decision.KEEP,
        notes={"decision": ReviewDecision.KEEP_PUBLISHED, "note": note},
    )
