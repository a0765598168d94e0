"""The demo registry, one row per agent: who registered it, as what, and what it really is.

Bidcliq and Swivel registered their agents as ``buying`` before any probe
existed; the fleet shows they are sales agents. Lumen, Relay and Harbor speak
the other dialects (modern-only MCP, legacy HTTP+SSE, a bare origin); Civic,
Marque and Gauge are AdCP 3 agents whose declaration decides; Vault answers only
with the bearer token its owner saved. Northwind proved the domain its agent runs
on; the others did not.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from yarl import URL

from probe.vocabulary import Protocol
from registry.types import AgentType

DEFAULT_FLEET_URL = "http://127.0.0.1:8765"


class Dialect(models.TextChoices):
    """How a demo agent is served."""

    MCP = "mcp", "MCP, negotiating as the official SDK does"
    MODERN_ONLY = "modern_only", "MCP 2026-07-28 only"
    SSE = "sse", "Legacy HTTP+SSE (2024-11-05)"
    ORIGIN = "origin", "MCP at the fleet's /mcp, registered at the bare origin"
    ADCP3 = "adcp3", "AdCP 3: get_adcp_capabilities declares what it is"
    A2A = "a2a", "An A2A agent card"
    BEARER = "bearer", "MCP behind a bearer token"
    SILENT = "silent", "Never answers"


@dataclass(frozen=True)
class DemoAgent:
    member: str
    member_name: str
    name: str  # the fleet's path for it: /<name>/mcp, /<name>/sse, /<name> for A2A
    declared_type: AgentType
    display_name: str
    dialect: Dialect
    tools: tuple[str, ...] = ()
    supported_protocols: tuple[str, ...] = ()  # AdCP 3 only
    # A domain its member claims and proves with the fleet's well-known file; the
    # agent is then registered on agents.<domain> (*.localhost resolves to loopback).
    verified_domain: str = ""

    @property
    def protocol(self) -> Protocol:
        return Protocol.A2A if self.dialect == Dialect.A2A else Protocol.MCP

    def url(self, fleet_url: str) -> str:
        """Where it is registered: under the fleet's URL, on its own host when it has a verified domain."""
        base = URL(fleet_url)
        if self.verified_domain:
            base = base.with_host(f"agents.{self.verified_domain}")
        return str(base).rstrip("/") + self.path

    @property
    def path(self) -> str:
        """Where it is registered, relative to the fleet's URL."""
        if self.dialect == Dialect.ORIGIN:
            return ""
        if self.dialect == Dialect.A2A:
            return f"/{self.name}"
        return f"/{self.name}/sse" if self.dialect == Dialect.SSE else f"/{self.name}/mcp"


SALES = ("get_products", "create_media_buy")
DEMO_AGENTS: tuple[DemoAgent, ...] = (
    DemoAgent(
        "bidcliq",
        "Bidcliq",
        "bidcliq",
        AgentType.BUYING,
        "Bidcliq Sales Agent",
        Dialect.MCP,
        (*SALES, "list_authorized_properties", "get_media_buy_delivery"),
    ),
    DemoAgent(
        "swivel", "Swivel", "swivel", AgentType.BUYING, "Swivel Media Agent", Dialect.MCP, (*SALES, "update_media_buy")
    ),
    # Northwind proved northwind.localhost (the fleet serves its well-known file): a verified host.
    DemoAgent(
        "northwind",
        "Northwind Media",
        "northwind",
        AgentType.SALES,
        "Northwind Sales",
        Dialect.MCP,
        SALES,
        verified_domain="northwind.localhost",
    ),
    DemoAgent("meridian", "Meridian Publishing", "meridian", AgentType.SALES, "Meridian (A2A)", Dialect.A2A, SALES),
    DemoAgent(
        "canvas",
        "Canvas Studio",
        "canvas",
        AgentType.CREATIVE,
        "Canvas Creative",
        Dialect.MCP,
        ("list_creative_formats", "build_creative", "preview_creative"),
    ),
    DemoAgent(
        "audiencelab",
        "Audience Lab",
        "audiencelab",
        AgentType.SIGNALS,
        "Audience Lab Signals",
        Dialect.MCP,
        ("get_signals", "activate_signal"),
    ),
    DemoAgent("orbit", "Orbit Buying", "orbit", AgentType.BUYING, "Orbit Buyer", Dialect.MCP, ("ping",)),
    DemoAgent("quietco", "Quiet Co", "quiet", AgentType.SALES, "Quiet Co Agent", Dialect.MCP, ("echo", "ping")),
    DemoAgent("lostsignal", "Lost Signal", "silent", AgentType.SIGNALS, "Lost Signal (never answers)", Dialect.SILENT),
    # The dialects real agents speak: the probe negotiates each.
    DemoAgent(
        "lumen", "Lumen Ads", "lumen", AgentType.SALES, "Lumen (MCP 2026-07-28 only)", Dialect.MODERN_ONLY, SALES
    ),
    DemoAgent(
        "relay",
        "Relay Data",
        "relay",
        AgentType.SIGNALS,
        "Relay (legacy HTTP+SSE)",
        Dialect.SSE,
        ("get_signals", "activate_signal"),
    ),
    DemoAgent(
        "harbor",
        "Harbor Creative",
        "harbor",
        AgentType.CREATIVE,
        "Harbor (registered at its bare origin)",
        Dialect.ORIGIN,
        ("build_creative", "preview_creative"),
    ),
    # AdCP 3 agents: their get_adcp_capabilities declaration decides.
    DemoAgent(
        "civic",
        "Civic Trust",
        "civic",
        AgentType.GOVERNANCE,
        "Civic Governance",
        Dialect.ADCP3,
        ("sync_plans", "report_plan_outcome"),
        ("governance",),
    ),
    DemoAgent(
        "marque",
        "Marque",
        "marque",
        AgentType.BRAND,
        "Marque Brand Identity",
        Dialect.ADCP3,
        ("get_brand_identity", "verify_brand_claims"),
        ("brand",),
    ),
    DemoAgent(
        "gauge",
        "Gauge Analytics",
        "gauge",
        AgentType.MEASUREMENT,
        "Gauge Measurement",
        Dialect.ADCP3,
        ("get_measurement_report",),
        ("measurement",),
    ),
    # Behind a login: its owner (the demo user "vault-owner") saved the token.
    DemoAgent("vault", "Vault Media", "vault", AgentType.SALES, "Vault (behind a bearer token)", Dialect.BEARER, SALES),
)

# The demo's own token for Vault: not a secret, the demo fleet accepts it on 127.0.0.1.
DEMO_BEARER_TOKEN = "demo-vault-token-not-a-secret"
DEMO_OWNER = "vault-owner"
# Owns every demo profile; the demo's notification emails go here (the console in bin/run).
DEMO_MAILBOX_OWNER = "demo-owner"
DEMO_MAILBOX = "demo-owner@localhost"


def of_dialect(dialect: Dialect) -> list[DemoAgent]:
    return [agent for agent in DEMO_AGENTS if agent.dialect == dialect]
