"""What one probe may spend, what it returns, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.credentials import Credential
from crawler.netsafety import AddressPolicy
from registry.types import ProbeErrorKind

# What a probe keeps of an agent's tools: enough to classify and to show a
# reviewer, never whole input schemas, and never more than this many.
MAX_TOOLS = 1000
# Structural JSON items (objects, arrays, members) one reply may hold; with the
# byte budget this bounds the Python objects a reply can cost.
MAX_JSON_ITEMS = 120_000


@dataclass(frozen=True)
class ProbeLimits:
    deadline: float = 10.0
    max_bytes: int = 4 * 1024 * 1024
    address_policy: AddressPolicy = AddressPolicy()
    max_redirects: int = 3
    max_pages: int = 20
    concurrency: int = 100
    # A probe with no answer after ``slow_after`` seconds gives its slot to the
    # next agent and waits out its deadline in a separate pool of
    # ``slow_pool_factor * concurrency`` slots: silent agents cost an idle socket
    # each, not a share of the crawl's throughput.
    slow_after: float = 0.5
    slow_pool_factor: int = 4
    # Name servers for the asynchronous resolver ("host" or "host:port"); empty
    # means the system's. Lookups for one domain share a few slots.
    nameservers: tuple[str, ...] = ()
    lookups_per_domain: int = 4

    @classmethod
    def from_settings(cls, **overrides: Any) -> ProbeLimits:
        from django.conf import settings

        values: dict[str, Any] = {
            "deadline": settings.AGENT_PROBE_TIMEOUT,
            "max_bytes": settings.AGENT_PROBE_MAX_BYTES,
            "address_policy": AddressPolicy.from_settings(),
            "concurrency": settings.AGENT_PROBE_CONCURRENCY,
            "nameservers": tuple(settings.AGENT_PROBE_NAMESERVERS),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class Route:
    """How an agent answered: the next probe goes straight there."""

    transport: str
    protocol_version: str
    endpoint: str


@dataclass(frozen=True)
class ProbeTarget:
    """One agent to probe, with what the last probe learnt and what its owner saved."""

    url: str
    protocol: str
    route: Route | None = None  # the route it answered on last time: tried first
    credential: Credential | None = None  # sent only to the agent's own origin

    @classmethod
    def of(cls, target: ProbeTarget | tuple[str, str]) -> ProbeTarget:
        return target if isinstance(target, ProbeTarget) else cls(*target)


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


class Budget:
    """The bytes one probe may still read, across all its responses."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def spend(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"the agent sent more than {self.limit} bytes")
