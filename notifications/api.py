"""``/api/me/member-profile/notifications`` and ``/webhooks``: what a profile's owners are told, and where.

Choices: which event kinds reach the owners by email, one message per event or a
daily digest. Webhooks: HTTPS endpoints that receive every chosen kind, signed
with a secret shown once, when the endpoint is created; each lists its last 50
deliveries with status and latency.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import NoticeKind
from members.api import owned_profile
from notifications.models import Delivery, NotificationSettings, TooManyWebhooks, WebhookEndpoint
from registry.canonical import canonicalize_agent_url

RECENT_DELIVERIES = 50


class KindsField(serializers.ListField):
    """Event kinds, each once, in the vocabulary's order."""

    child = serializers.ChoiceField(choices=NoticeKind.choices)
    # A few repeats are forgiven; a flood is refused before its items are checked.
    LIMIT = 4 * len(NoticeKind.values)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, list) and len(data) > self.LIMIT:
            raise serializers.ValidationError(f"At most {self.LIMIT} kinds; each kind counts once.")
        chosen = set(super().to_internal_value(data))
        return [kind for kind in NoticeKind.values if kind in chosen]


class SettingsInput(serializers.Serializer):
    email_kinds = KindsField()
    email_mode = serializers.ChoiceField(choices=NotificationSettings.EmailMode.choices)


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    kinds = KindsField(required=False)

    def validate_url(self, value: str) -> str:
        try:
            url = canonicalize_agent_url(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        # Plain HTTP only where probes may reach private addresses (tests, the demo).
        if not url.startswith("https://") and not settings.AGENT_PROBE_ALLOW_PRIVATE:
            raise serializers.ValidationError("A webhook endpoint must be an https:// URL.")
        return url


class SettingsSerializer(serializers.Serializer):
    email_kinds = serializers.ListField(child=serializers.ChoiceField(choices=NoticeKind.choices))
    email_mode = serializers.ChoiceField(choices=NotificationSettings.EmailMode.choices)


class DeliverySerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=NoticeKind.choices)
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=NoticeKind.choices))
    deliveries = DeliverySerializer(many=True)


class NewWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="the signing secret: shown in this answer only")


def _settings(profile: Any) -> NotificationSettings:
    return NotificationSettings.objects.filter(profile=profile).first() or NotificationSettings(profile=profile)


class Notifications(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Which events reach your profile's owners by email, and how", responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        chosen = _settings(owned_profile(request))
        return Response({"email_kinds": chosen.email_kinds, "email_mode": chosen.email_mode})

    @extend_schema(
        summary="Choose which events reach your owners by email", request=SettingsInput, responses=SettingsSerializer
    )
    def put(self, request: Request) -> Response:
        profile = owned_profile(request)
        body = SettingsInput(data=request.data)
        body.is_valid(raise_exception=True)
        NotificationSettings.objects.update_or_create(profile=profile, defaults=dict(body.validated_data))
        return self.get(request)


def _endpoint_document(endpoint: WebhookEndpoint) -> dict[str, Any]:
    recent = Delivery.objects.filter(webhook=endpoint).select_related("notice").order_by("-created_at")
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "kinds": endpoint.kinds,
        "deliveries": [
            {
                "event_id": str(d.notice.event_id),
                "kind": d.notice.kind,
                "status": d.status,
                "attempts": d.attempts,
                "last_status_code": d.last_status_code,
                "latency_ms": d.latency_ms,
                "last_error": d.last_error,
                "created_at": d.created_at,
            }
            for d in recent[:RECENT_DELIVERIES]
        ],
    }


class Webhooks(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Your profile's webhook endpoints, each with its last 50 deliveries",
        responses=WebhookSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        profile = owned_profile(request)
        return Response([_endpoint_document(e) for e in WebhookEndpoint.objects.filter(profile=profile)])

    @extend_schema(
        summary="Add a webhook endpoint; its signing secret is in this answer only",
        request=WebhookInput,
        responses={201: NewWebhookSerializer},
    )
    def post(self, request: Request) -> Response:
        profile = owned_profile(request)
        body = WebhookInput(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            endpoint, secret = WebhookEndpoint.add(
                profile, body.validated_data["url"], body.validated_data.get("kinds", list(NoticeKind.values))
            )
        except TooManyWebhooks as exc:
            raise serializers.ValidationError({"url": [str(exc)]}) from None
        return Response({**_endpoint_document(endpoint), "secret": secret}, status=status.HTTP_201_CREATED)


class Webhook(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Remove a webhook endpoint", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        deleted, _ = WebhookEndpoint.objects.filter(profile=owned_profile(request), pk=pk).delete()
        if not deleted:
            raise NotFound("No such webhook endpoint on your profile.")
        return Response(status=status.HTTP_204_NO_CONTENT)
