"""What the probe keeps of a stranger's tools: capped, and storable as text and jsonb."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from probe.limits import MAX_TOOLS
from probe.masking import is_masking, masked

NAME_LIMIT = 200
TITLE_LIMIT = 200
DESCRIPTION_LIMIT = 500
# PostgreSQL's text and jsonb refuse NUL; UTF-8 cannot encode a lone surrogate
# (JSON's "\ud800" escapes make them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str, limit: int) -> str:
    """``value`` without characters the database refuses and without the probe's secrets,
    at most ``limit`` characters."""
    if is_masking():
        # The whole text, and before the cut: neither a NUL nor a cut may hide an echo.
        return masked(_UNSTORABLE.sub("", value))[:limit]
    return _UNSTORABLE.sub("", value[: limit * 2])[:limit]


def kept_tool(name: object, title: object = None, description: object = None) -> dict[str, str] | None:
    """The part of one advertised tool the registry keeps, or ``None`` for a tool without a name."""
    if not isinstance(name, str):
        return None
    clean_name = clean_text(name, NAME_LIMIT).strip()
    if not clean_name:
        return None
    tool = {"name": clean_name}
    if isinstance(title, str):
        tool["title"] = clean_text(title, TITLE_LIMIT)
    if isinstance(description, str):
        tool["description"] = clean_text(description, DESCRIPTION_LIMIT)
    return tool


class ToolList:
    """The tools of one probe, kept up to MAX_TOOLS; says when it had to stop."""

    def __init__(self) -> None:
        self.tools: list[dict[str, str]] = []
        self.truncated = False

    @property
    def full(self) -> bool:
        return len(self.tools) >= MAX_TOOLS

    def add(self, tool: dict[str, str] | None) -> None:
        if tool is None:
            return
        if self.full:
            self.truncated = True
            return
        self.tools.append(tool)

    def add_mcp_tools(self, raw_tools: Iterable[Any]) -> None:
        for raw in raw_tools:
            if isinstance(raw, dict):
                self.add(kept_tool(raw.get("name"), raw.get("title"), raw.get("description")))
            if self.truncated:
                return

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(tool["name"] for tool in self.tools))
