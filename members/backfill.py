"""The backfill: re-resolve every member agent and reconcile its published type.

``plan_backfill`` asks the database, in pk-range chunks, which registrations'
published type differs from what the resolve rules give now (a constant number
of queries per chunk, nothing loaded that does not change). ``apply_backfill``
writes exactly that plan through :func:`registry.publish.apply_type_changes`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.db.models import F, Max, Min

from audit.models import Origin, Source, hold_notices
from members.models import MemberAgent, MemberProfile
from members.resolve import Rule, with_resolution
from registry.publish import ApplyResult, ChangeKind, TypeChange, apply_type_changes

PLAN_CHUNK = 20_000


def why(rule: str, *, declared: str | None, inferred: str | None) -> str:
    """The rule that produced a planned change, in words (pure; tested as a table)."""
    if rule == Rule.INFERRED:
        return f"the probe infers {inferred} from what the agent advertises; {inferred} is published"
    if rule == Rule.UNCONFIRMED:
        return f"the probe answered with no AdCP tool; declared {declared} is not published"
    if rule == Rule.BUYING_UNSEEN:
        return "declared buying, which no probe can see; buying is published"
    if rule == Rule.REVIEW_KEPT:
        return "a reviewer kept the published type against the probe's inference"
    return f"no probe has answered; the declared {declared} is published"


def explained(change: TypeChange) -> str:
    return why(
        str(change.notes.get("rule", "")),
        declared=change.declared_type,
        inferred=change.inferred_type,
    )


@dataclass
class BackfillPlan:
    changes: list[TypeChange] = field(default_factory=list)
    # What the rules would change but a reviewer decided to keep; never applied.
    kept_by_review: list[TypeChange] = field(default_factory=list)
    profiles_scanned: int = 0
    agents_scanned: int = 0

    # Planned, but left out on purpose (--exclude-demotions, or unticked in the admin).
    left_out: list[TypeChange] = field(default_factory=list)

    @property
    def profiles_with_changes(self) -> int:
        return len({c.member for c in self.changes})

    def kinds(self) -> dict[str, int]:
        """How many changes of each kind, in ChangeKind's order (kinds with none left out)."""
        counts = Counter(change.kind for change in self.changes)
        return {kind.value: counts[kind] for kind in ChangeKind if counts[kind]}

    def without(self, kind: ChangeKind) -> BackfillPlan:
        """The same plan with the changes of this kind left out (and said so)."""
        kept = [c for c in self.changes if c.kind != kind]
        dropped = [c for c in self.changes if c.kind == kind]
        return replace(self, changes=kept, left_out=[*self.left_out, *dropped])


def plan_backfill(
    profile_slugs: Iterable[str] | None = None,
    *,
    chunk_size: int = PLAN_CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
) -> BackfillPlan:
    base = MemberAgent.objects.all()
    profiles = MemberProfile.objects.all()
    if profile_slugs is not None:
        slugs = list(profile_slugs)
        base = base.filter(profile__slug__in=slugs)
        profiles = profiles.filter(slug__in=slugs)
    plan = BackfillPlan(profiles_scanned=profiles.count())
    bounds = base.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return plan
    changing = with_resolution(base).exclude(rules_type=F("agent__type"))
    for low in range(bounds["low"], bounds["high"] + 1, chunk_size):
        rows = (
            changing.filter(pk__gte=low, pk__lt=low + chunk_size)
            .order_by("profile__slug", "agent__url")
            .values_list(
                "agent_id",
                "agent__url",
                "published_type",
                "rules_type",
                "profile__slug",
                "declared_type",
                "inferred_type",
                "probed_at",
                "rules_rule",
                "resolved_type",
            )
        )
        for agent_id, url, published, rules_type, slug, declared, inferred, probed_at, rule, resolved in rows:
            change = TypeChange(
                agent_id=agent_id,
                agent_url=url,
                old_type=published,
                new_type=rules_type,
                member=slug,
                declared_type=declared,
                inferred_type=inferred,
                probed_at=probed_at,
                notes={"rule": rule},
            )
            (plan.changes if resolved != published else plan.kept_by_review).append(change)
        if on_progress is not None:
            span = bounds["high"] + 1 - bounds["low"]
            on_progress(min(span, low + chunk_size - bounds["low"]), span)
    plan.agents_scanned = base.count()
    plan.changes.sort(key=lambda c: (c.member or "", c.agent_url))
    return plan


def apply_backfill(
    plan: BackfillPlan,
    *,
    actor: str = "",
    run_id: uuid.UUID | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    origin: Origin = Origin.COMMAND,
) -> ApplyResult:
    # A backfill is a burst: its notices are delivered once, when it is done (one digest per owner).
    with hold_notices():
        return apply_type_changes(
            plan.changes,
            source=Source.BACKFILL_SCRIPT,
            actor=actor,
            run_id=run_id,
            on_progress=on_progress,
            notes={"origin": origin},
        )
