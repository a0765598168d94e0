"""``POST /api/registry/agents/<url>/refresh``: an owner or staff member probes an agent now."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from config.api_errors import error
from crawler.liveness import agent_liveness
from crawler.manual import RateLimiterUnavailable, claim_manual_probe
from crawler.policy import Action, apply_probe_results
from crawler.remembered import route_of
from credentials.sealing import credentials_for, record_use
from members.access import agent_for_owner
from probe import ProbeLimits, ProbeTarget, run_probes
from probe.netsafety import BlockedAddressError, check_url_target
from probe.vocabulary import ProbeErrorKind
from registry.api import PublicAgentSerializer
from registry.canonical import canonicalize_agent_url
from registry.models import CapabilitySnapshot
from registry.public import LISTED_FIELDS, public_agents
from registry.types import AgentType


class RefreshSerializer(serializers.Serializer):
    url = serializers.CharField()
    type = serializers.ChoiceField(choices=AgentType.choices)
    inferred_type = serializers.ChoiceField(choices=AgentType.choices, allow_null=True)
    promoted = serializers.BooleanField()
    disagreement = serializers.BooleanField()
    error_kind = serializers.ChoiceField(choices=ProbeErrorKind.choices, allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    elapsed = serializers.FloatField(help_text="seconds")


class ProbeDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    probes = serializers.IntegerField()
    ok = serializers.IntegerField()
    latency_p50_ms = serializers.IntegerField(allow_null=True)


class LivenessSerializer(serializers.Serializer):
    uptime_24h = serializers.FloatField(allow_null=True, help_text="share of probes that answered; null with none")
    uptime_7d = serializers.FloatField(allow_null=True)
    uptime_30d = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.IntegerField(allow_null=True)
    latency_p95_ms = serializers.IntegerField(allow_null=True)
    failure_streak = serializers.IntegerField()
    last_ok_at = serializers.DateTimeField(allow_null=True)
    daily = ProbeDaySerializer(many=True)


class AgentDetailSerializer(PublicAgentSerializer):
    liveness = LivenessSerializer()


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service unavailable."


class PerUserThrottle(UserRateThrottle):
    scope = "refresh_user"

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backend's own connection errors
            raise ServiceUnavailable(
                f"Refresh is unavailable: the rate limiter's cache cannot be reached ({exc.__class__.__name__})."
            ) from exc


class AgentRefresh(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [PerUserThrottle]

    @extend_schema(
        summary="Probe an agent now (owners and staff)",
        request=None,
        responses={200: RefreshSerializer, 502: RefreshSerializer},
    )
    def post(self, request: Request, url: str) -> Response:
        agent = agent_for_owner(request, url, refused="Only the agent's owners and staff may refresh it.")
        if agent.monitoring_paused:
            return error("Monitoring of this agent is paused.", "paused", status=status.HTTP_409_CONFLICT)
        try:
            wait = claim_manual_probe(agent.pk)
        except RateLimiterUnavailable as exc:
            return error(f"Refresh is unavailable: {exc}.", "unavailable", status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if wait:
            refused = error(
                f"This agent was probed less than a minute ago; retry in {wait} s.",
                "throttled",
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
            refused["Retry-After"] = str(wait)
            return refused
        limits = ProbeLimits.from_settings()
        try:
            check_url_target(agent.url, limits.address_policy)
        except BlockedAddressError as exc:
            return error(f"Not an allowed probe target: {exc}.", "blocked", status=status.HTTP_400_BAD_REQUEST)
        snapshot = CapabilitySnapshot.objects.filter(agent=agent).first()
        opened = credentials_for([agent.pk])
        target = ProbeTarget(agent.url, agent.protocol, route_of(snapshot), opened.get(agent.pk))
        [result] = run_probes([target], limits)
        [outcome] = apply_probe_results([(agent.pk, result)], actor=request.user.get_username()).outcomes
        record_use([(agent.pk, outcome.error_kind)], opened)
        body: dict[str, Any] = {
            "url": agent.url,
            "type": outcome.new_type,
            "inferred_type": outcome.inferred_type,
            "promoted": outcome.action == Action.PROMOTED,
            "disagreement": outcome.action == Action.DISAGREEMENT,
            "error_kind": outcome.error_kind or None,
            "error_message": outcome.error_message or None,
            "elapsed": round(result.elapsed, 3),
        }
        return Response(body, status=status.HTTP_502_BAD_GATEWAY if outcome.error_kind else status.HTTP_200_OK)


class AgentDetail(APIView):
    """``GET /api/registry/agents/<percent-encoded url>``: one public agent, with its liveness."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="One public agent, with its uptime and latency from the probe history",
        responses=AgentDetailSerializer,
    )
    def get(self, request: Request, url: str) -> Response:
        try:
            canonical = canonicalize_agent_url(url)
        except ValidationError as exc:
            raise ParseError(f"Not an agent URL: {exc.messages[0]}") from None
        agent = (
            public_agents()
            .only(*LISTED_FIELDS, "snapshot__failure_streak", "snapshot__last_ok_at")
            .filter(url=canonical)
            .first()
        )
        if agent is None:
            raise NotFound("No public agent is registered at this URL.")
        snapshot = getattr(agent, "snapshot", None)
        body = dict(PublicAgentSerializer(agent).data)
        body["liveness"] = agent_liveness(
            agent.pk,
            snapshot.failure_streak if snapshot else 0,
            snapshot.last_ok_at if snapshot else None,
            timezone.now(),
        )
        return Response(body)
