"""The agent type vocabulary and the one place input strings become types."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class AgentType(models.TextChoices):
    """Upstream AdCP's agent types."""

    SALES = "sales", "Sales"
    CREATIVE = "creative", "Creative"
    SIGNALS = "signals", "Signals"
    GOVERNANCE = "governance", "Governance"
    BRAND = "brand", "Brand"
    RIGHTS = "rights", "Rights"
    MEASUREMENT = "measurement", "Measurement"
    BUYING = "buying", "Buying"
    UNKNOWN = "unknown", "Unclassified"


KNOWN_TYPES: frozenset[str] = frozenset(t.value for t in AgentType if t != AgentType.UNKNOWN)
# What a probe can infer: a buy-side agent calls AdCP tools and exposes none, so
# no probe can see it. The classification table, the resolve rules and the
# snapshot's check constraint all read this.
INFERABLE_TYPES: frozenset[str] = KNOWN_TYPES - {AgentType.BUYING.value}

# Spellings older clients and rows still send.
LEGACY_TYPES: dict[str, AgentType] = {"buyer": AgentType.BUYING, "seller": AgentType.SALES}


def parse_agent_type(value: object, *, allow_unknown: bool = True) -> AgentType:
    """Read a type from input, accepting legacy spellings; refuse anything else."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("An agent type is required.", code="required")
    text = value.strip().lower()
    if text in LEGACY_TYPES:
        return LEGACY_TYPES[text]
    try:
        agent_type = AgentType(text)
    except ValueError:
        allowed = ", ".join(t.value for t in AgentType if allow_unknown or t != AgentType.UNKNOWN)
        raise ValidationError(
            "%(value)r is not an agent type; use one of: %(allowed)s.",
            code="invalid_choice",
            params={"value": value, "allowed": allowed},
        ) from None
    if agent_type == AgentType.UNKNOWN and not allow_unknown:
        raise ValidationError("Declare what the agent is; 'unknown' is not a declaration.", code="unknown")
    return agent_type


def is_known(value: str | None) -> bool:
    return value in KNOWN_TYPES


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


class TerminalState(models.TextChoices):
    UNREACHABLE = "unreachable", "Unreachable"
    UNCLASSIFIABLE = "unclassifiable", "Unclassifiable"


class Transport(models.TextChoices):
    """How a probe reached an agent."""

    STREAMABLE_HTTP = "streamable_http", "MCP Streamable HTTP"
    SSE = "sse", "MCP HTTP+SSE (2024-11-05)"
    A2A = "a2a", "A2A agent card"


class InferenceSource(models.TextChoices):
    DECLARATION = "declaration", "AdCP capabilities declaration"
    TOOLS = "tools", "Advertised tool names"


# Error kinds that mean "the agent answered behind a login", never "unreachable".
AUTH_ERROR_KINDS: frozenset[str] = frozenset({ProbeErrorKind.AUTH_REQUIRED, ProbeErrorKind.AUTH_FAILED})
