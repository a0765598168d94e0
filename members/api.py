"""``/api/me/member-profile``: a member's own profile and agents, for their tools."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from config.api_errors import error
from members.domains import claim, claimable, instructions, remove, verify, what_to_do
from members.models import DomainClaim, MemberAgent, MemberProfile, host_of, validate_member_slug
from members.registration import AgentUrlTaken, Registration, register_agents, unregister_agents
from members.resolve import Rule, with_resolution
from probe.vocabulary import ProbeErrorKind, Protocol
from registry.canonical import canonicalize_agent_url
from registry.models import CapabilitySnapshot
from registry.types import AgentType, parse_agent_type


class AgentTypeField(serializers.CharField):
    """A declared type: required, a real type (legacy spellings read), never ``unknown``."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return parse_agent_type(data, allow_unknown=False).value
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class AgentUrlField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        try:
            return canonicalize_agent_url(data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class AgentRegistrationSerializer(serializers.Serializer):
    url = AgentUrlField()
    declared_type = AgentTypeField()
    display_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    protocol = serializers.ChoiceField(choices=Protocol.choices, default=Protocol.MCP)


class ProbeErrorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ProbeErrorKind.choices)
    message = serializers.CharField()


class MemberAgentSerializer(serializers.Serializer):
    """One registration as its owner sees it (the schema of ``_agent_document``)."""

    url = serializers.CharField()
    display_name = serializers.CharField()
    protocol = serializers.ChoiceField(choices=Protocol.choices)
    declared_type = serializers.ChoiceField(choices=AgentType.choices)
    published_type = serializers.ChoiceField(choices=AgentType.choices)
    inferred_type = serializers.ChoiceField(choices=AgentType.choices, allow_null=True)
    auth_required = serializers.BooleanField()
    host_verified = serializers.BooleanField()
    verified_domain = serializers.CharField(allow_null=True)
    host_verification = serializers.CharField(allow_null=True, help_text="what to do while the host is unverified")
    probe_error = ProbeErrorSerializer(allow_null=True)
    explanation = serializers.CharField()


class MemberProfileSerializer(serializers.Serializer):
    slug = serializers.CharField()
    display_name = serializers.CharField()
    is_public = serializers.BooleanField()
    agents = MemberAgentSerializer(many=True)


class ProfileInputSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    is_public = serializers.BooleanField(default=True)
    agents = AgentRegistrationSerializer(many=True, required=False)

    def validate_slug(self, value: str) -> str:
        try:
            validate_member_slug(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_agents(self, agents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        duplicates = sorted(url for url, n in Counter(a["url"] for a in agents).items() if n > 1)
        if duplicates:
            raise serializers.ValidationError(f"Listed more than once: {', '.join(duplicates)}.")
        return agents


def explain(*, rule: str, declared: str, published: str, resolved: str, inferred: str | None, tools: list[str]) -> str:
    """Why the registry publishes what it does, in the member's terms, from the rule that decided."""
    shown = ", ".join(tools[:5])
    if published != resolved and rule != Rule.INFERRED:
        return (
            f"The registry lists {published}; the rules now give {resolved} ({Rule(rule).label}), which the next "
            f"change to this registration or the next backfill will publish."
        )
    if rule == Rule.REVIEW_KEPT:
        return (
            f"You said {declared}; the agent exposes {shown} ({inferred} tools), but a reviewer looked at both and "
            f"kept {published}."
        )
    if rule == Rule.INFERRED and published != inferred:
        return (
            f"You said {declared} and the registry lists {published}, but the agent exposes {shown} "
            f"({inferred} tools); a reviewer will reconcile the two."
        )
    if rule == Rule.INFERRED and declared == published:
        return f"The registry lists {published}: the agent exposes {shown}."
    if rule == Rule.INFERRED:
        return f"You said {declared}; the registry lists {published} because the agent exposes {shown}."
    if rule == Rule.BUYING_UNSEEN:
        return "The registry lists buying as you declared: a buying agent exposes no AdCP tools for a probe to see."
    if rule == Rule.UNCONFIRMED:
        return (
            f"You said {declared}; the registry lists it as unclassified because the probe found no AdCP tool "
            f"that confirms it."
        )
    return f"The registry lists {published} as you declared; the agent has not answered a probe yet."


def profile_document(profile: MemberProfile) -> dict[str, Any]:
    agents = (
        with_resolution(MemberAgent.objects.filter(profile=profile))
        .select_related("agent__snapshot")
        .defer(*(f"agent__snapshot__{name}" for name in CapabilitySnapshot.TOOL_LISTS))
        .order_by("agent__url")
    )
    return {
        "slug": profile.slug,
        "display_name": profile.display_name,
        "is_public": profile.is_public,
        "agents": [_agent_document(ma, getattr(ma.agent, "snapshot", None)) for ma in agents],
    }


def _agent_document(ma: Any, snapshot: CapabilitySnapshot | None) -> dict[str, Any]:
    """One registration, annotated by ``with_resolution`` (hence ``Any``), as the member sees it."""
    answered = snapshot is not None and snapshot.probed_at is not None
    return {
        "url": ma.agent.url,
        "display_name": ma.display_name,
        "protocol": ma.agent.protocol,
        "declared_type": ma.declared_type,
        "published_type": ma.agent.type,
        "inferred_type": ma.inferred_type,
        "auth_required": bool(snapshot and snapshot.auth_required),
        "host_verified": bool(ma.verified_domain),
        "verified_domain": ma.verified_domain or None,
        # What to do about it, when the host is on no domain the profile proved.
        "host_verification": None if ma.verified_domain else what_to_do(host_of(ma.agent.url)),
        # The last probe's failure in the agent's own words (e.g. why saved credentials were rejected).
        "probe_error": (
            {"kind": snapshot.error_kind, "message": snapshot.error_message}
            if snapshot and snapshot.error_kind
            else None
        ),
        "explanation": explain(
            rule=ma.rule,
            declared=ma.declared_type,
            published=ma.agent.type,
            resolved=ma.resolved_type,
            inferred=ma.inferred_type,
            tools=list(snapshot.inferred_from) if snapshot and answered else [],
        ),
    }


def _register(profile: MemberProfile, agents: list[dict[str, Any]], actor: str) -> None:
    try:
        register_agents(
            profile,
            [Registration(a["url"], a["declared_type"], a["display_name"], a["protocol"]) for a in agents],
            actor=actor,
            enforce_quotas=True,
        )
    except AgentUrlTaken as exc:
        raise Conflict(exc.message_dict) from None
    except ValidationError as exc:
        raise ApiValidationError(exc.message_dict) from None


class Conflict(Exception):
    def __init__(self, detail: dict[str, Any]) -> None:
        super().__init__(detail)
        self.detail = detail


def _user(request: Request) -> User:
    """The signed-in user (every view here requires one)."""
    if not isinstance(request.user, User):
        raise PermissionDenied("Sign in first.")
    return request.user


def owned_profile(request: Request) -> MemberProfile:
    """The profile the requesting user owns (``?profile=<slug>`` when they own several)."""
    slug = request.query_params.get("profile")
    if slug:
        # Unknown or someone else's: one answer, so no one learns which slugs exist.
        return get_object_or_404(MemberProfile, slug=slug, owners=_user(request))
    owned = list(MemberProfile.objects.filter(owners=_user(request))[:2])
    if not owned:
        raise NotFound("You own no member profile; create one with POST /api/me/member-profile.")
    if len(owned) > 1:
        raise ApiValidationError({"profile": ["You own several profiles; name one with ?profile=<slug>."]})
    return owned[0]


class ProfileWriteThrottle(UserRateThrottle):
    """Profile writes per user (MEMBER_PROFILE_WRITE_RATE), in the shared cache; reads are not counted."""

    scope = "profile_write"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache backend's own connection errors
            raise ServiceUnavailable(
                "Profile writes are unavailable: the rate limiter's cache cannot be reached "
                f"({exc.__class__.__name__})."
            ) from exc


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service unavailable."


class MyMemberProfile(APIView):
    """The profile the requesting user owns (``?profile=<slug>`` when they own several)."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ProfileWriteThrottle]

    def _owned(self, request: Request) -> MemberProfile:
        return owned_profile(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Conflict):
            return error(
                "Some of these agents are registered by another profile.",
                "conflict",
                status=status.HTTP_409_CONFLICT,
                fields=exc.detail,
            )
        return super().handle_exception(exc)

    @extend_schema(summary="Read your member profile and its agents", responses=MemberProfileSerializer)
    def get(self, request: Request) -> Response:
        return Response(profile_document(self._owned(request)))

    @extend_schema(
        summary="Create a member profile you own",
        request=ProfileInputSerializer,
        responses={201: MemberProfileSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self._valid(request)
        if MemberProfile.objects.filter(slug=data["slug"]).exists():
            raise ApiValidationError({"slug": [f"{data['slug']!r} is taken."]})
        with transaction.atomic():
            profile = MemberProfile.objects.create(
                slug=data["slug"], display_name=data["display_name"], is_public=data["is_public"]
            )
            profile.owners.add(_user(request))
            _register(profile, data.get("agents", []), request.user.get_username())
        return Response(profile_document(profile), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update your member profile; a listed agents array replaces the registrations",
        request=ProfileInputSerializer,
        responses=MemberProfileSerializer,
    )
    def put(self, request: Request) -> Response:
        """Replace the profile: display_name is required (a PUT states the whole profile)."""
        return self._change(request, partial=False)

    @extend_schema(
        summary="Change only the fields sent; an agents array, when sent, replaces the registrations",
        request=ProfileInputSerializer,
        responses=MemberProfileSerializer,
    )
    def patch(self, request: Request) -> Response:
        return self._change(request, partial=True)

    def _change(self, request: Request, *, partial: bool) -> Response:
        profile = self._owned(request)
        data = self._valid(request, slug=profile.slug, partial=partial)
        if data.get("slug", profile.slug) != profile.slug:
            raise ApiValidationError({"slug": ["The slug of a profile cannot change."]})
        with transaction.atomic():
            profile.display_name = data.get("display_name", profile.display_name)
            profile.is_public = data.get("is_public", profile.is_public)
            profile.save()
            if "agents" in data:
                listed = {a["url"] for a in data["agents"]}
                unregister_agents(
                    MemberAgent.objects.filter(profile=profile).exclude(agent__url__in=listed),
                    actor=request.user.get_username(),
                )
                _register(profile, data["agents"], request.user.get_username())
        return Response(profile_document(profile))

    def _valid(self, request: Request, *, slug: str | None = None, partial: bool = False) -> dict[str, Any]:
        payload = dict(request.data) if isinstance(request.data, dict) else {}
        if slug is not None and not partial:
            payload.setdefault("slug", slug)
        serializer = ProfileInputSerializer(data=payload, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class DomainInputSerializer(serializers.Serializer):
    domain = serializers.CharField(max_length=300)


class DnsProofSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    value = serializers.CharField()


class HttpProofSerializer(serializers.Serializer):
    url = serializers.CharField()
    body = serializers.CharField()


class DomainClaimSerializer(serializers.Serializer):
    domain = serializers.CharField()
    verified = serializers.BooleanField()
    verified_at = serializers.DateTimeField(allow_null=True)
    verified_by = serializers.CharField(help_text="dns, http or staff; empty while unverified")
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    token = serializers.CharField()
    dns = DnsProofSerializer()
    http = HttpProofSerializer()


def claim_document(claim: DomainClaim) -> dict[str, Any]:
    return {
        "domain": claim.domain,
        "verified": claim.verified,
        "verified_at": claim.verified_at,
        "verified_by": claim.verified_by,
        "last_checked_at": claim.last_checked_at,
        "last_error": claim.last_error,
        "token": claim.token,
        **instructions(claim),
    }


class MyDomains(APIView):
    """Domains the profile claims, and how to prove each."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ProfileWriteThrottle]

    @extend_schema(summary="List your profile's domains", responses=DomainClaimSerializer(many=True))
    def get(self, request: Request) -> Response:
        claims = DomainClaim.objects.filter(profile=owned_profile(request)).order_by("domain")
        return Response([claim_document(c) for c in claims])

    @extend_schema(
        summary="Claim a domain: publish its TXT record or well-known file, then verify",
        request=DomainInputSerializer,
        responses={201: DomainClaimSerializer, 200: DomainClaimSerializer},
    )
    def post(self, request: Request) -> Response:
        profile = owned_profile(request)
        serializer = DomainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            found, created = claim(profile, serializer.validated_data["domain"])
        except ValidationError as exc:
            raise ApiValidationError({"domain": exc.messages}) from None
        return Response(claim_document(found), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _claim_of(request: Request, domain: str) -> DomainClaim:
    """The requesting owner's claim on the domain, however it is spelled (404 when none)."""
    try:
        stored = claimable(domain)
    except ValidationError:
        raise NotFound("This profile claims no such domain.") from None
    return get_object_or_404(DomainClaim, profile=owned_profile(request), domain=stored)


class MyDomain(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ProfileWriteThrottle]

    @extend_schema(summary="Withdraw a domain claim", responses={204: None})
    def delete(self, request: Request, domain: str) -> Response:
        remove(_claim_of(request, domain))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyMyDomain(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [ProfileWriteThrottle]

    @extend_schema(summary="Check a domain's proofs now", request=None, responses=DomainClaimSerializer)
    def post(self, request: Request, domain: str) -> Response:
        return Response(claim_document(verify(_claim_of(request, domain))))
