"""What an agent is, from what it declares or the tools it advertises: the one table (see DESIGN.md).

An AdCP 3 agent's own declaration (``get_adcp_capabilities`` -> ``supported_protocols``)
decides when present; otherwise the advertised tool names do. Sell-side first when
several apply. Inference never yields ``buying``: a buy-side agent calls these
tools, it does not expose them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.types import AdcpProtocol, AgentType, InferenceSource

# In priority order (sell-side first): an agent exposing sales tools is a sales
# agent even if it also exposes creative or signals tools. Brand comes before
# rights, so rights tools make a rights agent only where no brand tool is.
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
    (
        AgentType.GOVERNANCE,
        frozenset(
            {"check_governance", "sync_plans", "report_plan_outcome", "report_plan_adjustment", "get_plan_audit_logs"}
        ),
    ),
    (
        AgentType.BRAND,
        frozenset(
            {"get_brand_identity", "search_brands", "verify_brand_claim", "verify_brand_claims", "creative_approval"}
        ),
    ),
    (AgentType.RIGHTS, frozenset({"get_rights", "acquire_rights", "update_rights"})),
)

# An AdCP 3 declaration's supported_protocols, in the same sell-side-first order.
# sponsored_intelligence has no registry type of its own.
TYPE_BY_DECLARED_PROTOCOL: tuple[tuple[AdcpProtocol, AgentType], ...] = (
    (AdcpProtocol.MEDIA_BUY, AgentType.SALES),
    (AdcpProtocol.CREATIVE, AgentType.CREATIVE),
    (AdcpProtocol.SIGNALS, AgentType.SIGNALS),
    (AdcpProtocol.GOVERNANCE, AgentType.GOVERNANCE),
    (AdcpProtocol.BRAND, AgentType.BRAND),
    (AdcpProtocol.MEASUREMENT, AgentType.MEASUREMENT),
)

EVIDENCE_LIMIT = 5


@dataclass(frozen=True)
class Inference:
    type: AgentType | None
    source: InferenceSource
    evidence: list[str]


NOTHING_INFERRED = Inference(None, InferenceSource.TOOLS, [])


def _names(tool_names: Iterable[str]) -> set[str]:
    return {name.strip().lower() for name in tool_names if isinstance(name, str)}


def infer(tool_names: Iterable[str], declared_protocols: Iterable[str] = ()) -> Inference:
    """The type, which source decided, and the evidence reviewers see."""
    declared = {p.strip().lower() for p in declared_protocols if isinstance(p, str)}
    for protocol, agent_type in TYPE_BY_DECLARED_PROTOCOL:
        if protocol in declared:
            return Inference(agent_type, InferenceSource.DECLARATION, [f"supported_protocols: {protocol}"])
    tool_names = list(tool_names)
    names = _names(tool_names)
    for agent_type, tools in TOOLS_BY_TYPE:
        if names & tools:
            return Inference(agent_type, InferenceSource.TOOLS, evidence_for(tool_names, agent_type))
    return NOTHING_INFERRED


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
