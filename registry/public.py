"""The public registry: which agents are listed, and how they are filtered."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from registry.models import Agent, ProtocolListField
from registry.types import AdcpProtocol, parse_agent_type


def public_agents() -> QuerySet[Agent]:
    """Agents registered by a public member profile, with what a listing shows."""
    return (
        Agent.objects.filter(registration__profile__is_public=True)
        .select_related("snapshot", "registration__profile")
        .without_tool_lists()
        .order_by("url")
    )


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
        term = q.strip()[:200]
        queryset = queryset.filter(
            Q(url__icontains=term)
            | Q(name__icontains=term)
            | Q(registration__display_name__icontains=term)
            | Q(registration__profile__display_name__icontains=term)
        )
    return queryset


def is_online(agent: Agent) -> bool | None:
    """Did the last probe get an answer? ``None`` when never probed."""
    snapshot = getattr(agent, "snapshot", None)
    if snapshot is None or snapshot.last_attempt_at is None:
        return None
    return not snapshot.error_kind
