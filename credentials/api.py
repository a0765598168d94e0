"""``/api/registry/agents/<url>/credentials``: owners save how probes sign in; nobody reads it back.

PUT saves (204; a probe is enqueued, within the refresh rate limit, and the
``Registry-Probe`` header says what happened), GET describes it without the
secret, DELETE removes it. An agent the caller cannot see (not registered, or
registered by a private profile they do not own) is 404, so the endpoint does
not reveal which URLs are registered; a public agent they do not own is 403.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from credentials.models import AgentCredential
from members.access import agent_for_owner
from probe import Credential, CredentialScheme
from registry.canonical import canonicalize_agent_url
from registry.models import Agent

SECRET_LIMIT = 4096
# Headers a credential may not set: they belong to HTTP itself or to the probe.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "cookie", "accept", "user-agent"}
    | {"mcp-protocol-version", "mcp-session-id", "mcp-method", "mcp-name"}
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}\Z")


def _secret(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > SECRET_LIMIT or any(c in value for c in "\r\n\x00"):
        raise serializers.ValidationError({name: [f"A non-empty string of at most {SECRET_LIMIT} characters."]})
    return value


class CredentialInput(serializers.Serializer):
    scheme = serializers.ChoiceField(choices=CredentialScheme.choices)
    token = serializers.CharField(required=False, trim_whitespace=False)
    name = serializers.CharField(required=False)
    value = serializers.CharField(required=False, trim_whitespace=False)
    client_id = serializers.CharField(required=False)
    client_secret = serializers.CharField(required=False, trim_whitespace=False)
    scope = serializers.CharField(required=False, allow_blank=True)
    token_url = serializers.CharField(required=False, allow_blank=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        scheme = data["scheme"]
        if scheme == CredentialScheme.BEARER:
            return {"scheme": scheme, "token": _secret(data.get("token"), "token")}
        if scheme == CredentialScheme.HEADER:
            name = data.get("name", "")
            if not _HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
                raise serializers.ValidationError({"name": ["An HTTP header name the probe does not set itself."]})
            return {"scheme": scheme, "name": name, "value": _secret(data.get("value"), "value")}
        token_url = data.get("token_url", "")
        if token_url:
            try:
                token_url = canonicalize_agent_url(token_url)
            except ValidationError as exc:
                raise serializers.ValidationError({"token_url": exc.messages}) from None
        return {
            "scheme": scheme,
            "client_id": _secret(data.get("client_id"), "client_id"),
            "client_secret": _secret(data.get("client_secret"), "client_secret"),
            "scope": data.get("scope", "")[:500],
            "token_url": token_url,
        }


def visible_agent(request: Request, raw_url: str) -> Agent:
    return agent_for_owner(request, raw_url, refused="Only the agent's owners and staff may manage its credentials.")


class AgentCredentials(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Describe an agent's saved credentials (never the secret)",
        responses={
            200: inline_serializer(
                "CredentialDescription",
                {
                    "scheme": serializers.ChoiceField(choices=CredentialScheme.choices),
                    "set_by": serializers.CharField(),
                    "set_at": serializers.DateTimeField(),
                    "last_used_at": serializers.DateTimeField(allow_null=True),
                    "last_result": serializers.CharField(),
                },
            ),
            404: OpenApiResponse(description="No credentials, or no agent you can see"),
        },
    )
    def get(self, request: Request, url: str) -> Response:
        agent = visible_agent(request, url)
        credential = AgentCredential.objects.filter(agent=agent).first()
        if credential is None:
            raise NotFound("No credentials are saved for this agent.")
        return Response(
            {
                "scheme": credential.scheme,
                "set_by": credential.set_by,
                "set_at": credential.set_at,
                "last_used_at": credential.last_used_at,
                "last_result": credential.last_result,
            }
        )

    @extend_schema(
        summary="Save how probes sign in to an agent (owners and staff)",
        request=CredentialInput,
        responses={
            204: OpenApiResponse(description="Saved; the Registry-Probe header says whether a probe is enqueued")
        },
    )
    def put(self, request: Request, url: str) -> Response:
        agent = visible_agent(request, url)
        body = CredentialInput(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        scheme = fields.pop("scheme")
        credential = Credential(scheme, {k: v for k, v in fields.items() if v})
        probe = AgentCredential.save_for(agent, credential, actor=request.user.get_username())
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"Registry-Probe": probe})

    @extend_schema(summary="Remove an agent's saved credentials", responses={204: None})
    def delete(self, request: Request, url: str) -> Response:
        agent = visible_agent(request, url)
        if not AgentCredential.remove([agent], actor=request.user.get_username()):
            raise NotFound("No credentials are saved for this agent.")
        return Response(status=status.HTTP_204_NO_CONTENT)
