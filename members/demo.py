"""The demo registry: the story the project exists to tell.

Bidcliq and Swivel registered their agents as ``buying`` before any probe
existed; the demo fleet (``crawler`` serves it on 127.0.0.1) shows they are
sales agents. Lumen, Relay and Harbor speak the other dialects (modern-only MCP,
legacy HTTP+SSE, a bare origin); Civic, Marque and Gauge are AdCP 3 agents.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe.vocabulary import Protocol
from registry.types import AgentType

DEFAULT_FLEET_URL = "http://127.0.0.1:8765"


@dataclass(frozen=True)
class DemoAgent:
    member: str
    member_name: str
    path: str
    declared_type: AgentType
    display_name: str
    protocol: Protocol = Protocol.MCP


DEMO_AGENTS: tuple[DemoAgent, ...] = (
    DemoAgent("bidcliq", "Bidcliq", "/bidcliq/mcp", AgentType.BUYING, "Bidcliq Sales Agent"),
    DemoAgent("swivel", "Swivel", "/swivel/mcp", AgentType.BUYING, "Swivel Media Agent"),
    DemoAgent("northwind", "Northwind Media", "/northwind/mcp", AgentType.SALES, "Northwind Sales"),
    DemoAgent("meridian", "Meridian Publishing", "/meridian", AgentType.SALES, "Meridian (A2A)", Protocol.A2A),
    DemoAgent("canvas", "Canvas Studio", "/canvas/mcp", AgentType.CREATIVE, "Canvas Creative"),
    DemoAgent("audiencelab", "Audience Lab", "/audiencelab/mcp", AgentType.SIGNALS, "Audience Lab Signals"),
    DemoAgent("orbit", "Orbit Buying", "/orbit/mcp", AgentType.BUYING, "Orbit Buyer"),
    DemoAgent("quietco", "Quiet Co", "/quiet/mcp", AgentType.SALES, "Quiet Co Agent"),
    DemoAgent("lostsignal", "Lost Signal", "/silent/mcp", AgentType.SIGNALS, "Lost Signal (never answers)"),
    # The dialects real agents speak: the probe negotiates each.
    DemoAgent("lumen", "Lumen Ads", "/lumen/mcp", AgentType.SALES, "Lumen (MCP 2026-07-28 only)"),
    DemoAgent("relay", "Relay Data", "/relay/sse", AgentType.SIGNALS, "Relay (legacy HTTP+SSE)"),
    DemoAgent("harbor", "Harbor Creative", "", AgentType.CREATIVE, "Harbor (registered at its bare origin)"),
    # AdCP 3 agents: their get_adcp_capabilities declaration decides.
    DemoAgent("civic", "Civic Trust", "/civic/mcp", AgentType.GOVERNANCE, "Civic Governance"),
    DemoAgent("marque", "Marque", "/marque/mcp", AgentType.BRAND, "Marque Brand Identity"),
    DemoAgent("gauge", "Gauge Analytics", "/gauge/mcp", AgentType.MEASUREMENT, "Gauge Measurement"),
    # Behind a login: its owner (the demo user "vault-owner") saved the token.
    DemoAgent("vault", "Vault Media", "/vault/mcp", AgentType.SALES, "Vault (behind a bearer token)"),
)

# The demo's own token for Vault: not a secret, the demo fleet accepts it on 127.0.0.1.
DEMO_BEARER_TOKEN = "demo-vault-token-not-a-secret"
DEMO_OWNER = "vault-owner"
# Owns every demo profile; the demo's notification emails go here (the console in bin/run).
DEMO_MAILBOX_OWNER = "demo-owner"
DEMO_MAILBOX = "demo-owner@localhost"
