"""Tool names -> agent type: the one classification table (see DESIGN.md)."""

from __future__ import annotations

from collections.abc import Iterable

from registry.types import AgentType

# In priority order: an agent exposing sales tools is a sales agent even if it
# also exposes creative or signals tools. Inference never yields ``buying``: a
# buy-side agent calls these tools, it does not expose them.
TOOLS_BY_TYPE: tuple[tuple[AgentType, frozenset[str]], ...] = (
    (AgentType.SALES, frozenset({"get_products", "create_media_buy", "list_authorized_properties"})),
    (
        AgentType.CREATIVE,
        frozenset(
            {
                "list_creative_formats",
                "build_creative",
                "generate_creative",
                "validate_creative",
                "validate_input",
                "preview_creative",
            }
        ),
    ),
    (
        AgentType.SIGNALS,
        frozenset({"get_signals", "list_signals", "match_audience", "activate_signal", "activate_audience"}),
    ),
)


def classify(tool_names: Iterable[str]) -> AgentType | None:
    """The type the advertised tools show, or ``None`` when no known tool is there."""
    names = {name.strip().lower() for name in tool_names if isinstance(name, str)}
    for agent_type, tools in TOOLS_BY_TYPE:
        if names & tools:
            return agent_type
    return None


EVIDENCE_LIMIT = 5


def evidence_for(tool_names: Iterable[str], agent_type: str | None) -> list[str]:
    """The advertised tools that made the inference, for reviewers: each once
    (whatever its case), at most EVIDENCE_LIMIT of them."""
    for known_type, tools in TOOLS_BY_TYPE:
        if known_type == agent_type:
            evidence: dict[str, str] = {}
            for name in tool_names:
                key = name.strip().lower() if isinstance(name, str) else ""
                if key in tools and key not in evidence:
                    evidence[key] = name
                    if len(evidence) == EVIDENCE_LIMIT:
                        break
            return list(evidence.values())
    return []
