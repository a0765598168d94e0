"""Every API error in one shape: ``{"detail": "...", "code": "...", "fields": {...}}``.

``detail`` says what went wrong in words, ``code`` names it for programs (DRF's codes:
``invalid``, ``parse_error``, ``not_authenticated``, ``permission_denied``,
``not_found``, ``throttled``, ... and the registry's own, such as ``conflict`` or
``cursor_expired``), and ``fields`` holds, for invalid input, the messages per field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def error(detail: str, code: str, *, status: int, fields: dict[str, Any] | None = None, **extra: Any) -> Response:
    """An error response built by a view, in the same shape as a raised one."""
    return Response({"detail": detail, "code": code, "fields": fields or {}, **extra}, status=status)


def one_shape(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, headers such as Retry-After and WWW-Authenticate), then the one shape."""
    # Django's own 404 and 403 (get_object_or_404, ...), as DRF itself maps them.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        name, messages = next(iter(fields.items()), ("", []))
        first = messages[0] if isinstance(messages, list) and messages else messages
        where = "" if name == "non_field_errors" else f"{name}: "
        response.data = {"detail": f"{where}{first}", "code": "invalid", "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        detail = response.data.get("detail", exc.detail) if isinstance(response.data, dict) else exc.detail
        codes = exc.get_codes()
        response.data = {"detail": str(detail), "code": codes if isinstance(codes, str) else "error", "fields": {}}
    return response


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, in words"},
        "code": {"type": "string", "description": "what went wrong, for programs"},
        "fields": {
            "type": "object",
            "additionalProperties": True,
            "description": "for invalid input: the messages per field",
        },
    },
    "required": ["detail", "code", "fields"],
}
# Per status: when it is answered, and an example body.
ERRORS = {
    "400": ("Invalid input", {"detail": "type: 'publisher' is not an agent type.", "code": "invalid",
                              "fields": {"type": ["'publisher' is not an agent type."]}}),
    "401": ("Not signed in", {"detail": "Authentication credentials were not provided.",
                              "code": "not_authenticated", "fields": {}}),
    "403": ("Not allowed", {"detail": "Only the agent's owners and staff may refresh it.",
                            "code": "permission_denied", "fields": {}}),
    "404": ("Not found", {"detail": "No public agent is registered at this URL.", "code": "not_found", "fields": {}}),
    "409": ("Conflict", {"detail": "Some of these agents are registered by another profile.", "code": "conflict",
                         "fields": {"agents": ["https://a.example/mcp cannot be registered by this profile."]}}),
    "410": ("Gone: the cursor is older than the feed keeps; newest is the id to follow after re-reading the listing",
            {"detail": "This cursor is older than the 90 days the feed keeps.", "code": "cursor_expired",
             "fields": {}, "newest": 1234}),
    "429": ("Too many requests", {"detail": "Request was throttled. Expected available in 60 seconds.",
                                  "code": "throttled", "fields": {}}),
}  # fmt: skip
# Which errors each kind of operation can answer.
PUBLIC_ERRORS = ("400", "404")
MEMBER_ERRORS = ("400", "401", "403", "404", "429")
EXTRA_ERRORS = {"/api/registry/feed": ("410",), "/api/me/member-profile": ("409",), "refresh": ("409", "429")}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing: every operation lists the errors it can answer, in the one shape."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            secured = not any(not requirement for requirement in operation.get("security", [{}]))
            statuses = list(MEMBER_ERRORS if secured else PUBLIC_ERRORS)
            statuses += [s for key, extra in EXTRA_ERRORS.items() if path == key or path.endswith(key) for s in extra]
            responses = operation.setdefault("responses", {})
            for status in statuses:
                description, example = ERRORS[status]
                answer = responses.setdefault(status, {"description": description})
                # An error a view described in words only gets the one shape's schema and an example.
                answer.setdefault("content", {}).setdefault(
                    "application/json", {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}
                )
    return result
