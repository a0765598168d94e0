"""The upstream story as rows: agents frozen with the type their member declared."""

from __future__ import annotations

from members.models import MemberAgent
from registry.models import Agent
from tests.factories import make_agent, make_profile, make_snapshot, register


def frozen(slug: str, declared: str, inferred: str | None, *, tools: list[str] | None = None) -> MemberAgent:
    """A registration saved before its probe: published as declared, snapshot added later."""
    agent = make_agent(f"https://{slug}.example.com/mcp")
    member_agent = register(make_profile(slug), agent, declared)
    make_snapshot(agent, inferred, tools or (["get_products"] if inferred == "sales" else []))
    return member_agent


def upstream_story() -> None:
    frozen("bidcliq", "buying", "sales")
    frozen("swivel", "buying", "sales")
    frozen("northwind", "sales", "sales")
    frozen("orbit", "buying", None)


def published() -> dict[str, str]:
    return dict(Agent.objects.values_list("url", "type"))
