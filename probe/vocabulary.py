"""The probe's words: which protocol an agent speaks, how it answered, how a probe failed."""

from __future__ import annotations

from django.db import models


class Protocol(models.TextChoices):
    MCP = "mcp", "MCP"
    A2A = "a2a", "A2A"


class ProbeErrorKind(models.TextChoices):
    TIMEOUT = "timeout", "Timed out"
    DNS = "dns", "Name does not resolve"
    CONNECT = "connect", "Connection failed"
    HTTP_STATUS = "http_status", "HTTP error status"
    # A login wall is not unreachability: the agent answered, it wants credentials.
    AUTH_REQUIRED = "auth_required", "Needs credentials"
    AUTH_FAILED = "auth_failed", "Credentials rejected"
    PROTOCOL = "protocol", "Not a valid MCP/A2A reply"
    TOO_LARGE = "too_large", "Response too large"
    BLOCKED = "blocked", "Address not allowed"


class Transport(models.TextChoices):
    """How a probe reached an agent."""

    STREAMABLE_HTTP = "streamable_http", "MCP Streamable HTTP"
    SSE = "sse", "MCP HTTP+SSE (2024-11-05)"
    A2A = "a2a", "A2A agent card"


# Error kinds that mean "the agent answered behind a login", never "unreachable".
AUTH_ERROR_KINDS: frozenset[str] = frozenset({ProbeErrorKind.AUTH_REQUIRED, ProbeErrorKind.AUTH_FAILED})


class ProofMethod(models.TextChoices):
    """How a member proved a domain is theirs."""

    DNS = "dns", "DNS TXT record"
    HTTP = "http", "Well-known file"
    STAFF = "staff", "Verified by staff"
