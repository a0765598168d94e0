"""The resolve rules: what type the registry publishes for a member's agent.

One implementation, as a database expression over ``MemberAgent`` rows, so every
writer (``MemberAgent.save()``, bulk registration, fixtures, the backfill) asks
the database the same question, and the backfill can plan 100,000 rows without
loading them. In order, the first that applies decides:

0. a reviewer kept the published type against exactly the current inference
   (``Agent.review_kept_inferred``) -> the published type stands;
1. the probe inferred a known type -> that type;
2. the probe inferred nothing and the member declared ``buying`` -> ``buying``;
3. the probe inferred nothing and anything else was declared -> ``unknown``;
4. no probe evidence -> the declared type.

Each row also says which rule decided (:class:`Rule`), so explanations are
derived from the decision, never retold. A snapshot is evidence only once a probe
has answered (``probed_at`` set): a snapshot of failed probes says nothing about
what the agent is.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When

from audit.models import Source
from registry.publish import AgentState, ApplyResult, TypeChange, apply_type_changes
from registry.types import INFERABLE_TYPES, AgentType


class Rule(models.TextChoices):
    REVIEW_KEPT = "review_kept", "a reviewer kept the published type against the probe's inference"
    INFERRED = "inferred", "the probe inferred a known type"
    BUYING_UNSEEN = "buying_unseen", "declared buying, which no probe can see"
    UNCONFIRMED = "unconfirmed", "the probe answered and confirmed nothing"
    DECLARED = "declared", "no probe has answered: the declared type"


def _rules(*, honour_reviews: bool) -> list[tuple[Rule, Q, F | Value]]:
    answered = Q(agent__snapshot__probed_at__isnull=False)
    kept_by_review = Q(agent__review_kept_inferred__isnull=False) & Q(
        agent__review_kept_inferred=F("agent__snapshot__inferred_type")
    )
    return [
        *([(Rule.REVIEW_KEPT, kept_by_review, F("agent__type"))] if honour_reviews else []),
        (
            Rule.INFERRED,
            answered & Q(agent__snapshot__inferred_type__in=sorted(INFERABLE_TYPES)),
            F("agent__snapshot__inferred_type"),
        ),
        (Rule.BUYING_UNSEEN, answered & Q(declared_type=AgentType.BUYING), Value(AgentType.BUYING.value)),
        # Anything else the probe could not confirm is not published: no type smuggling.
        (Rule.UNCONFIRMED, answered, Value(AgentType.UNKNOWN.value)),
    ]


def resolved_type(*, honour_reviews: bool = True) -> Case:
    return Case(
        *[When(condition, then=value) for _, condition, value in _rules(honour_reviews=honour_reviews)],
        default=F("declared_type"),
        output_field=CharField(),
    )


def resolve_rule(*, honour_reviews: bool = True) -> Case:
    """Which rule gives :func:`resolved_type` (same conditions, same order)."""
    return Case(
        *[When(condition, then=Value(rule.value)) for rule, condition, _ in _rules(honour_reviews=honour_reviews)],
        default=Value(Rule.DECLARED.value),
        output_field=CharField(),
    )


def with_resolution(queryset: QuerySet) -> QuerySet:
    """Annotate member agents with the type the rules give now, the rule, and its evidence.

    ``resolved_type``/``rule`` honour a reviewer's keep decision; ``rules_type``/
    ``rules_rule`` are what the rules alone give.
    """
    return queryset.annotate(
        resolved_type=resolved_type(),
        rule=resolve_rule(),
        rules_type=resolved_type(honour_reviews=False),
        rules_rule=resolve_rule(honour_reviews=False),
        published_type=F("agent__type"),
        inferred_type=F("agent__snapshot__inferred_type"),
        probed_at=F("agent__snapshot__probed_at"),
    )


_CHANGE_FIELDS = (
    "agent_id",
    "agent__url",
    "profile__slug",
    "declared_type",
    "resolved_type",
    "rule",
    "published_type",
    "inferred_type",
    "probed_at",
    "agent__snapshot__tool_names",
)


def _change(row: dict[str, Any]) -> TypeChange:
    probed_at = row["probed_at"]
    return TypeChange(
        agent_id=row["agent_id"],
        agent_url=row["agent__url"],
        old_type=row["published_type"],
        new_type=row["resolved_type"],
        member=row["profile__slug"],
        declared_type=row["declared_type"],
        inferred_type=row["inferred_type"],
        probed_at=probed_at,
        notes={
            "rule": row["rule"],
            "tool_names": list(row["agent__snapshot__tool_names"] or [])[:50] if probed_at else [],
        },
    )


def publish_resolved_types(member_agents: QuerySet, *, actor: str = "") -> ApplyResult:
    """Publish the resolved type of these registrations through the single writer.

    Runs inside the caller's transaction, which holds their agents' locks: the
    rows read here are what the writer expects to find.
    """
    rows = list(with_resolution(member_agents).exclude(resolved_type=F("agent__type")).values(*_CHANGE_FIELDS))
    found = {r["agent_id"]: AgentState(r["published_type"], r["inferred_type"]) for r in rows}
    return apply_type_changes([_change(r) for r in rows], source=Source.MEMBER_WRITE, actor=actor, found=found)
