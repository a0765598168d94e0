"""Helpers shared by the probe tests."""

from __future__ import annotations

import ipaddress

from probe import ProbeLimits, ProbeResult, run_probes
from probe.netsafety import AddressPolicy

LOOPBACK_ONLY = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))


def probe(url: str, protocol: str = "mcp", **limits: object) -> ProbeResult:
    limits.setdefault("deadline", 5.0)
    limits.setdefault("address_policy", LOOPBACK_ONLY)
    return run_probes([(url, protocol)], ProbeLimits(**limits))[0]  # type: ignore[arg-type]  # the caller names ProbeLimits fields
