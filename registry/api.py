"""The public registry as JSON: ``/api/registry/agents``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from probe.vocabulary import ProbeErrorKind, Protocol, Transport
from registry.canonical import MAX_URL_LENGTH
from registry.models import Agent, CapabilitySnapshot
from registry.public import changed_since, filter_agents, is_online, parse_since, public_agents
from registry.types import AdcpProtocol, AgentType


class AgentPagination(CursorPagination):
    """Keyset pages over the unique URL: page 2,000 costs what page 1 costs (no OFFSET, no COUNT)."""

    ordering = "url"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    invalid_cursor_message = "Invalid cursor: use the next or previous link of a page."

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A cursor is a stranger's input: malformed, or holding what no URL holds, it is a 400."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ParseError(self.invalid_cursor_message) from None
        position = str(cursor.position) if cursor is not None and cursor.position is not None else ""
        if len(position) > MAX_URL_LENGTH or not position.isprintable():
            raise ParseError(self.invalid_cursor_message)
        return cursor


class PublicAgentSerializer(serializers.Serializer):
    """The shape of a listed agent, for the schema; ``agent_document`` writes it: 50 agents
    in 0.35 ms, where DRF's fields took 2.6 ms, timed on the same rows."""

    url = serializers.CharField()
    display_name = serializers.CharField(help_text="the name its member registered, else the agent's own, else its URL")
    member = serializers.CharField(help_text="the member profile's slug")
    member_name = serializers.CharField()
    type = serializers.ChoiceField(choices=AgentType.choices, help_text="the published type")
    type_label = serializers.CharField()
    protocol = serializers.ChoiceField(choices=Protocol.choices)
    inferred_type = serializers.ChoiceField(
        choices=AgentType.choices, allow_null=True, help_text="what the last answered probe found (null before one)"
    )
    last_probed_at = serializers.DateTimeField(allow_null=True)
    last_error_kind = serializers.ChoiceField(choices=ProbeErrorKind.choices, allow_null=True)
    online = serializers.BooleanField(allow_null=True, help_text="the last probe got an answer (null: never probed)")
    auth_required = serializers.BooleanField(
        help_text="the agent answers only with credentials (its owner can save them)"
    )
    adcp_protocols = serializers.ListField(child=serializers.CharField())
    transport = serializers.ChoiceField(choices=Transport.choices, allow_null=True)
    protocol_version = serializers.CharField(allow_null=True)
    endpoint = serializers.CharField(allow_null=True)
    uptime_7d = serializers.FloatField(
        allow_null=True, help_text="the share of the last 7 days' probes that got an answer (null with none)"
    )
    latency_p50_ms = serializers.IntegerField(
        allow_null=True, help_text="the median time to the answer that decided, over the last 7 days"
    )
    host_verified = serializers.BooleanField(
        help_text="the agent's host is on a domain its member proved it controls (DNS TXT or a well-known file)"
    )
    verified_domain = serializers.CharField(allow_null=True, help_text="the proved domain the host is on")
    removed = serializers.BooleanField(
        required=False,
        help_text="only with updated_since: true for an agent no longer listed, which then carries only its url",
    )

    def to_representation(self, agent: Agent) -> dict[str, Any]:
        return agent_document(agent)


def agent_document(agent: Agent) -> dict[str, Any]:
    """A listed agent as the API shows it; one removed from the listing (only asked for with
    ``updated_since``) is its URL and the word that it is gone."""
    removed = getattr(agent, "removed", None)
    if removed is True:
        return {"url": agent.url, "removed": True}
    registration = agent.registration
    snapshot: CapabilitySnapshot | None = getattr(agent, "snapshot", None)
    document: dict[str, Any] = {
        "url": agent.url,
        "display_name": registration.display_name or agent.name or agent.url,
        "member": registration.profile.slug,
        "member_name": registration.profile.display_name,
        "type": agent.type,
        "type_label": agent.get_type_display(),
        "protocol": agent.protocol,
        "inferred_type": None,
        "last_probed_at": None,
        "last_error_kind": None,
        "online": is_online(agent),
        "auth_required": False,
        "adcp_protocols": [],
        "transport": None,
        "protocol_version": None,
        "endpoint": None,
        "uptime_7d": None,
        "latency_p50_ms": None,
        "host_verified": bool(registration.verified_domain),
        "verified_domain": registration.verified_domain or None,
    }
    if snapshot is not None:
        document.update(
            inferred_type=snapshot.inferred_type,
            last_probed_at=snapshot.last_attempt_at.isoformat() if snapshot.last_attempt_at else None,
            last_error_kind=snapshot.error_kind or None,
            auth_required=snapshot.auth_required,
            adcp_protocols=snapshot.adcp_protocols,
            transport=snapshot.transport or None,
            protocol_version=snapshot.protocol_version or None,
            endpoint=snapshot.endpoint or None,
            uptime_7d=snapshot.uptime_7d,
            latency_p50_ms=snapshot.latency_p50_ms,
        )
    if removed is False:
        document["removed"] = False
    return document


@extend_schema(
    summary="Public agents",
    parameters=[
        OpenApiParameter(
            "type",
            OpenApiTypes.STR,
            description="sales, creative, signals, governance, brand, rights, measurement, buying or unknown "
            "(legacy buyer/seller accepted)",
        ),
        OpenApiParameter(
            "adcp_protocol",
            OpenApiTypes.STR,
            enum=AdcpProtocol.values,
            description="an AdCP protocol the agent declares (get_adcp_capabilities)",
        ),
        OpenApiParameter("member", OpenApiTypes.STR, description="a member profile slug"),
        OpenApiParameter("q", OpenApiTypes.STR, description="search in URL, names and member"),
        OpenApiParameter(
            "host_verified",
            OpenApiTypes.BOOL,
            description="true: only agents whose host is on a domain their member proved; false: only the others",
        ),
        OpenApiParameter(
            "updated_since",
            OpenApiTypes.DATETIME,
            description="only agents changed since then, and those removed since then as {url, removed: true}; "
            "every agent then carries removed",
        ),
    ],
)
class PublicAgentList(generics.ListAPIView):
    serializer_class = PublicAgentSerializer
    pagination_class = AgentPagination

    def get_queryset(self) -> Any:
        params = self.request.query_params
        try:
            since = params.get("updated_since", "")
            return filter_agents(
                changed_since(parse_since(since)) if since else public_agents(),
                type=params.get("type", ""),
                member=params.get("member", ""),
                q=params.get("q", ""),
                adcp_protocol=params.get("adcp_protocol", ""),
                host_verified=params.get("host_verified", ""),
            )
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
