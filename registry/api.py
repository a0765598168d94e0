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

from registry.canonical import MAX_URL_LENGTH
from registry.models import Agent
from registry.public import changed_since, filter_agents, is_online, parse_since, public_agents
from registry.types import AdcpProtocol


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


class PublicAgentSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="registration.profile.slug")
    member_name = serializers.CharField(source="registration.profile.display_name")
    display_name = serializers.SerializerMethodField()
    type_label = serializers.CharField(source="get_type_display")
    inferred_type = serializers.SerializerMethodField()
    last_probed_at = serializers.SerializerMethodField()
    last_error_kind = serializers.SerializerMethodField()
    online = serializers.SerializerMethodField()
    auth_required = serializers.SerializerMethodField()
    adcp_protocols = serializers.SerializerMethodField()
    transport = serializers.SerializerMethodField()
    protocol_version = serializers.SerializerMethodField()
    endpoint = serializers.SerializerMethodField()
    uptime_7d = serializers.SerializerMethodField()
    latency_p50_ms = serializers.SerializerMethodField()
    host_verified = serializers.SerializerMethodField()
    verified_domain = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = [
            "url",
            "display_name",
            "member",
            "member_name",
            "type",
            "type_label",
            "protocol",
            "inferred_type",
            "last_probed_at",
            "last_error_kind",
            "online",
            "auth_required",
            "adcp_protocols",
            "transport",
            "protocol_version",
            "endpoint",
            "uptime_7d",
            "latency_p50_ms",
            "host_verified",
            "verified_domain",
        ]

    def to_representation(self, agent: Agent) -> Any:
        """A removed agent (only listed with ``updated_since``) is its URL and the word that it is gone."""
        if getattr(agent, "removed", None) is True:
            return {"url": agent.url, "removed": True}
        data = super().to_representation(agent)
        if getattr(agent, "removed", None) is False:
            data["removed"] = False
        return data

    def get_host_verified(self, agent: Agent) -> bool:
        """The agent's host is on a domain its member proved it controls (DNS TXT or a well-known file)."""
        return bool(agent.registration.verified_domain)

    def get_verified_domain(self, agent: Agent) -> str | None:
        """The proved domain the host is on (null when none)."""
        return agent.registration.verified_domain or None

    def get_uptime_7d(self, agent: Agent) -> float | None:
        """The share of the last 7 days' probes that got an answer (null with none)."""
        snapshot = self._snapshot(agent)
        return snapshot.uptime_7d if snapshot else None

    def get_latency_p50_ms(self, agent: Agent) -> int | None:
        """The median time to the answer that decided, over the last 7 days."""
        snapshot = self._snapshot(agent)
        return snapshot.latency_p50_ms if snapshot else None

    def get_display_name(self, agent: Agent) -> str:
        return agent.registration.display_name or agent.name or agent.url

    def _snapshot(self, agent: Agent) -> Any:
        return getattr(agent, "snapshot", None)

    def get_inferred_type(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return snapshot.inferred_type if snapshot else None

    def get_last_probed_at(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return snapshot.last_attempt_at.isoformat() if snapshot and snapshot.last_attempt_at else None

    def get_last_error_kind(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return (snapshot.error_kind or None) if snapshot else None

    def get_online(self, agent: Agent) -> bool | None:
        return is_online(agent)

    def get_auth_required(self, agent: Agent) -> bool:
        """The agent answers only with credentials (its owner can save them)."""
        snapshot = self._snapshot(agent)
        return bool(snapshot and snapshot.auth_required)

    def get_adcp_protocols(self, agent: Agent) -> list[str]:
        snapshot = self._snapshot(agent)
        return snapshot.adcp_protocols if snapshot else []

    def get_transport(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return (snapshot.transport or None) if snapshot else None

    def get_protocol_version(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return (snapshot.protocol_version or None) if snapshot else None

    def get_endpoint(self, agent: Agent) -> str | None:
        snapshot = self._snapshot(agent)
        return (snapshot.endpoint or None) if snapshot else None


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
