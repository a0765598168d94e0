"""AdCP 3: an agent's own declaration of what it is (``get_adcp_capabilities``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from probe.mcp import Session
from probe.result import ProbeFailure
from probe.tools import clean_text
from probe.vocabulary import AUTH_ERROR_KINDS, ProbeErrorKind

# An AdCP 3 agent that advertises this tool says what it is when called.
CAPABILITIES_TOOL = "get_adcp_capabilities"
# An A2A agent says it in its card, as this extension.
ADCP_EXTENSION = "adcontextprotocol.org/extensions/adcp"

MAX_DECLARED = 20
DECLARED_LIMIT = 40


@dataclass
class Declaration:
    protocols: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    found = [clean_text(v, DECLARED_LIMIT).strip().lower() for v in value[:MAX_DECLARED] if isinstance(v, str)]
    return list(dict.fromkeys(v for v in found if v))


def declaration_from(result: Any) -> Declaration:
    """The declaration in a ``tools/call`` result: ``structuredContent``, else the JSON of its first text block."""
    content: Any = result.get("structuredContent") if isinstance(result, dict) else None
    if not isinstance(content, dict) or "supported_protocols" not in content:
        wrapped = content.get("result") if isinstance(content, dict) else None
        content = wrapped if isinstance(wrapped, dict) else None
    if content is None and isinstance(result, dict) and isinstance(result.get("content"), list):
        first = next((c for c in result["content"] if isinstance(c, dict) and c.get("type") == "text"), None)
        text = first.get("text") if first else None
        if isinstance(text, str) and len(text) <= 100_000:
            try:
                content = json.loads(text)
            except (ValueError, RecursionError):
                content = None
    if not isinstance(content, dict):
        return Declaration()
    declared: dict[str, Any] = content
    adcp = declared.get("adcp")
    majors = adcp.get("major_versions") if isinstance(adcp, dict) else None
    versions = _strings([str(v) for v in majors if isinstance(v, int | str)] if isinstance(majors, list) else [])
    return Declaration(
        protocols=_strings(declared.get("supported_protocols")),
        versions=versions or _strings(declared.get("supported_versions")),
    )


def declaration_from_card(card: Any) -> Declaration:
    """An A2A agent's declaration: the AdCP extension of its card (``capabilities.extensions[]``
    whose ``uri`` names ADCP_EXTENSION), with the same ``supported_protocols`` as an MCP agent's."""
    capabilities = card.get("capabilities") if isinstance(card, dict) else None
    extensions = capabilities.get("extensions") if isinstance(capabilities, dict) else None
    for extension in extensions[:MAX_DECLARED] if isinstance(extensions, list) else []:
        if isinstance(extension, dict) and ADCP_EXTENSION in str(extension.get("uri", ""))[: DECLARED_LIMIT * 4]:
            params = extension.get("params")
            return declaration_from({"structuredContent": params}) if isinstance(params, dict) else Declaration()
    return Declaration()


async def ask_declaration(session: Session, tool_names: list[str]) -> Declaration:
    """Call ``get_adcp_capabilities`` when advertised; a failed call declares nothing."""
    if CAPABILITIES_TOOL not in {name.lower() for name in tool_names}:
        return Declaration()
    try:
        result = await session.call("tools/call", {"name": CAPABILITIES_TOOL, "arguments": {}}, name=CAPABILITIES_TOOL)
    except ProbeFailure as failure:
        if failure.kind in (ProbeErrorKind.TOO_LARGE, *AUTH_ERROR_KINDS):
            raise
        return Declaration()
    return declaration_from(result)
