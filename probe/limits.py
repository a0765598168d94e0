"""What one probe may spend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from probe.netsafety import AddressPolicy
from probe.result import ProbeFailure
from probe.vocabulary import ProbeErrorKind

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


class Budget:
    """The bytes one probe may still read, across all its responses."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def spend(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"the agent sent more than {self.limit} bytes")
