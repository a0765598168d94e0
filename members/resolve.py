"""The resolve rules: what type the registry publishes for a member's agent.

One implementation, as a database expression over ``MemberAgent`` rows, so every
writer (``MemberAgent.save()``, bulk registration, fixtures, the backfill) asks
the database the same question, and the backfill can plan 100,000 rows without
loading them:

1. the probe inferred a known type -> that type;
2. the probe inferred nothing and the member declared ``buying`` -> ``buying``;
3. the probe inferred nothing and anything else was declared -> ``unknown``;
4. no probe evidence -> the declared type.

A reviewer's decision to keep the published type against an inference
(``Agent.review_kept_inferred``) holds while the snapshot still infers that type.

A snapshot is evidence only once a probe has answered (``probed_at`` set): a
snapshot of failed probes says nothing about what the agent is.
"""

from __future__ import annotations

from django.db.models import Case, CharField, F, Q, QuerySet, Value, When

from registry.types import AgentType

INFERABLE_TYPES = (AgentType.SALES, AgentType.CREATIVE, AgentType.SIGNALS)


def resolved_type(*, honour_reviews: bool = True) -> Case:
    answered = Q(agent__snapshot__probed_at__isnull=False)
    kept_by_review = Q(agent__review_kept_inferred__isnull=False) & Q(
        agent__review_kept_inferred=F("agent__snapshot__inferred_type")
    )
    return Case(
        # A reviewer kept the published type against exactly this inference.
        *([When(kept_by_review, then=F("agent__type"))] if honour_reviews else []),
        When(
            answered & Q(agent__snapshot__inferred_type__in=INFERABLE_TYPES), then=F("agent__snapshot__inferred_type")
        ),
        # A buy-side agent calls AdCP tools; it exposes none, so no probe can see it.
        When(answered & Q(declared_type=AgentType.BUYING), then=Value(AgentType.BUYING.value)),
        # Anything else the probe could not confirm is not published: no type smuggling.
        When(answered, then=Value(AgentType.UNKNOWN.value)),
        default=F("declared_type"),
        output_field=CharField(),
    )


def with_resolution(queryset: QuerySet) -> QuerySet:
    """Annotate member agents with the type the rules give now and its evidence."""
    return queryset.annotate(
        resolved_type=resolved_type(),
        rules_type=resolved_type(honour_reviews=False),
        published_type=F("agent__type"),
        inferred_type=F("agent__snapshot__inferred_type"),
        probed_at=F("agent__snapshot__probed_at"),
    )
