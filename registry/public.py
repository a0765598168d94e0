"""The public registry: which agents are listed, and how they are filtered."""

from __future__ import annotations

import operator
from datetime import UTC, datetime
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import Case, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import Notice
from registry.models import Agent, ProtocolListField
from registry.types import AdcpProtocol, parse_agent_type

# What a listing shows (the API's agent_document, the public page): a page selects, decodes
# and builds only these (with the keys, 23 of the four rows' 54 columns).
LISTED_FIELDS = (
    "url",
    "name",
    "type",
    "protocol",
    "snapshot__inferred_type",
    "snapshot__last_attempt_at",
    "snapshot__error_kind",
    "snapshot__auth_required",
    "snapshot__adcp_protocols",
    "snapshot__transport",
    "snapshot__protocol_version",
    "snapshot__endpoint",
    "snapshot__uptime_7d",
    "snapshot__latency_p50_ms",
    "registration__display_name",
    "registration__verified_domain",
    "registration__profile__slug",
    "registration__profile__display_name",
)


def public_agents() -> QuerySet[Agent]:
    """Agents registered by a public member profile, with what a listing shows."""
    return (
        Agent.objects.filter(registration__profile__is_public=True)
        .select_related("snapshot", "registration__profile")
        .only(*LISTED_FIELDS)
        .order_by("url")
    )


def changed_since(since: datetime) -> QuerySet[Agent]:
    """Public agents changed since then, and agents removed from the listing since then
    (``removed``): unregistered, or under a profile made private. Changes are the listed
    notices of the outbox (the change feed's events) and edits of the agent or its registration."""
    listed_now = Q(registration__profile__is_public=True)
    announced = Notice.objects.filter(listed=True, created_at__gte=since).values("agent_url")
    return (
        Agent.objects.filter(
            Q(url__in=announced) | (listed_now & (Q(updated_at__gte=since) | Q(registration__updated_at__gte=since)))
        )
        .annotate(removed=Case(When(listed_now, then=Value(False)), default=Value(True)))
        .select_related("snapshot", "registration__profile")
        .only(*LISTED_FIELDS)
        .order_by("url")
    )


def parse_since(value: str) -> datetime:
    """An ISO 8601 time (a date alone is its midnight, UTC), or a ValidationError naming the parameter."""
    moment = parse_datetime(value) or (
        datetime.combine(day, datetime.min.time()) if (day := parse_date(value)) else None
    )
    if moment is None:
        raise ValidationError(
            {"updated_since": [f"{value[:40]!r} is not an ISO 8601 time, such as 2026-12-01T08:00:00Z."]}
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def filter_agents(
    queryset: QuerySet[Agent],
    *,
    type: str = "",
    member: str = "",
    q: str = "",
    adcp_protocol: str = "",
    host_verified: str = "",
) -> QuerySet[Agent]:
    """Apply the listing's filters; a bad type or protocol raises ValidationError keyed by
    the parameter, naming the allowed values."""
    if type:
        try:
            queryset = queryset.filter(type=parse_agent_type(type))
        except ValidationError as exc:
            raise ValidationError({"type": exc.messages}) from None
    if adcp_protocol:
        declared = adcp_protocol.strip().lower()
        if declared not in AdcpProtocol.values:
            allowed = ", ".join(AdcpProtocol.values)
            message = f"{adcp_protocol[:40]!r} is not an AdCP protocol; use one of: {allowed}."
            raise ValidationError({"adcp_protocol": [message]})
        queryset = queryset.filter(snapshot__adcp_protocols__contains=ProtocolListField.token(declared))
    if member:
        queryset = queryset.filter(registration__profile__slug=member.strip().lower())
    if host_verified:
        wanted = host_verified.strip().lower()
        if wanted not in ("true", "false"):
            raise ValidationError({"host_verified": [f"{host_verified[:40]!r} is neither true nor false."]})
        unverified = Q(registration__verified_domain="")
        queryset = queryset.exclude(unverified) if wanted == "true" else queryset.filter(unverified)
    if q.strip():
        queryset = search(queryset, q.strip()[:200])
    return queryset


# A term that matches at most this many agents is collected from the trigram indexes
# (registry/migrations/0014_search_trigrams.py) and its page sorted from those; a commoner
# one walks the listing in URL order, where it fills a page within a few hundred rows.
# Measured on 100,000 agents with the load benchmark's terms (a number, a member's name,
# a word every URL holds): under 1 ms of SQL each way, where walking for a rare term took
# 15 ms and sorting all of a common term's matches 60 ms. A common term whose matches all
# sit late in URL order (a URL's start, "https://agent-5") still walks to them: 100 ms.
SEARCH_COLLECT_LIMIT = 1000


# The registration's columns a search reads, beside the agent's URL and name.
REGISTRATION_SEARCHED = ("display_name", "profile__display_name")


def search(queryset: QuerySet[Agent], term: str) -> QuerySet[Agent]:
    """Agents whose URL, name, registered name or member's name contains the term, any case."""
    on_agent = Q(url__icontains=term) | Q(name__icontains=term)
    # A trigram index finds nothing for a term shorter than a trigram: such a term is common.
    if len(term) >= 3:
        # Registrations are asked directly (the members app's model, reached through the
        # relation rather than imported): joined to every agent, a member's name that
        # matches thousands of agents would hash all 100,000 first.
        registrations = Agent.registration.related.field.model._default_manager.order_by()
        found = list(
            Agent.objects.filter(on_agent)
            .order_by()
            .values_list("pk", flat=True)
            .union(
                *(
                    registrations.filter(**{f"{column}__icontains": term}).values_list("agent_id", flat=True)
                    for column in REGISTRATION_SEARCHED
                ),
                all=True,
            )[: SEARCH_COLLECT_LIMIT + 1]
        )
        if len(found) <= SEARCH_COLLECT_LIMIT:
            return queryset.filter(pk__in=set(found))
    on_registration = (Q(**{f"registration__{column}__icontains": term}) for column in REGISTRATION_SEARCHED)
    return queryset.filter(reduce(operator.or_, on_registration, on_agent))


def is_online(agent: Agent) -> bool | None:
    """Did the last probe get an answer? ``None`` when never probed."""
    snapshot = getattr(agent, "snapshot", None)
    if snapshot is None or snapshot.last_attempt_at is None:
        return None
    return not snapshot.error_kind
