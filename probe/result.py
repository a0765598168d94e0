"""What a probe returns, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from probe.vocabulary import ProbeErrorKind


@dataclass
class ProbeResult:
    url: str
    protocol: str
    tool_names: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    # The agent advertised more than MAX_TOOLS tools; the first ones were kept.
    tools_truncated: bool = False
    # An AdCP 3 agent's declaration (get_adcp_capabilities).
    adcp_protocols: list[str] = field(default_factory=list)
    adcp_versions: list[str] = field(default_factory=list)
    # The route that answered: transport, protocol version, endpoint URL.
    transport: str = ""
    protocol_version: str = ""
    endpoint: str = ""
    elapsed: float = 0.0
    error_kind: str = ""
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return not self.error_kind


class ProbeFailure(Exception):
    def __init__(self, kind: ProbeErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
