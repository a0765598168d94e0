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


class AdcpProtocol(models.TextChoices):
    """What an AdCP 3 agent may declare it supports (``get_adcp_capabilities`` -> ``supported_protocols``)."""

    MEDIA_BUY = "media_buy", "Media buy"
    CREATIVE = "creative", "Creative"
    SIGNALS = "signals", "Signals"
    GOVERNANCE = "governance", "Governance"
    BRAND = "brand", "Brand"
    MEASUREMENT = "measurement", "Measurement"
    SPONSORED_INTELLIGENCE = "sponsored_intelligence", "Sponsored intelligence"


class TerminalState(models.TextChoices):
    UNREACHABLE = "unreachable", "Unreachable"
    UNCLASSIFIABLE = "unclassifiable", "Unclassifiable"


class InferenceSource(models.TextChoices):
    DECLARATION = "declaration", "AdCP capabilities declaration"
    TOOLS = "tools", "Advertised tool names"
