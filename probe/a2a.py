"""A2A: the agent card's skills, from its well-known path."""

from __future__ import annotations

from typing import Any

from yarl import URL

from probe.adcp import Declaration, declaration_from_card
from probe.http import HttpClient, check_status, parse_json
from probe.result import ProbeFailure
from probe.tools import ToolList, kept_tool
from probe.vocabulary import ProbeErrorKind

A2A_CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")


def tools_from_card(card: Any) -> ToolList:
    """An A2A agent card's skills as tools, named by ``id`` (else ``name``)."""
    if not isinstance(card, dict) or not ({"skills", "name"} & card.keys()):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the reply is not an A2A agent card")
    skills = card.get("skills") or []
    if not isinstance(skills, list):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the agent card's skills are not a list")
    tools = ToolList()
    for skill in skills:
        if isinstance(skill, dict):
            name = skill.get("id") if isinstance(skill.get("id"), str) and skill.get("id") else skill.get("name")
            tools.add(kept_tool(name, skill.get("name"), skill.get("description")))
        if tools.truncated:
            break
    return tools


def card_candidates(url: str) -> list[str]:
    """Where an agent's card may be: the URL itself when it names a card; else under the
    registered path, then at the origin, where the A2A specification puts it (an agent
    registered at the JSON-RPC URL its card names)."""
    if url.endswith(".json"):
        return [url]
    origin = str(URL(url).origin())
    under = [url.rstrip("/") + path for path in A2A_CARD_PATHS]
    return list(dict.fromkeys([*under, *(origin + path for path in A2A_CARD_PATHS)]))


async def probe_a2a(http: HttpClient, url: str, remembered: str = "") -> tuple[ToolList, Declaration, str]:
    """The card's skills, its AdCP declaration, and the card URL that answered (tried first next time)."""
    candidates = card_candidates(url)
    if remembered in candidates:
        candidates.remove(remembered)
        candidates.insert(0, remembered)
    for index, card_url in enumerate(candidates):
        response = await http.request("GET", card_url, headers={"Accept": "application/json"})
        async with response:
            if response.status in (404, 405, 410) and index + 1 < len(candidates):
                continue
            check_status(response)
            card = parse_json(await http.read_body(response), "the agent card")
        return tools_from_card(card), declaration_from_card(card), card_url
    raise AssertionError("unreachable: the last candidate either returns or raises")
