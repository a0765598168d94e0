"""The probe: ask an agent which tools it advertises, over MCP or A2A.

Async on aiohttp: one session per batch, many probes in flight, a hard deadline
per probe, a byte and item budget on everything read, manual redirects so every
hop is checked, asynchronous name resolution with every resolved address checked
before connecting (probe.netsafety). Whatever an agent sends, its probe ends as
a result with an error kind, and what is kept is bounded and storable.

* ``limits``: what one probe may spend, its result, its failure;
* ``http``: requests with checked redirects, the byte budget, bounded JSON;
* ``sse``: the event-stream parser;
* ``mcp``, ``a2a``: the protocols;
* ``tools``: what is kept of the advertised tools;
* ``prober``: one probe, every failure mapped to an error kind;
* ``scheduler``: many probes, and the probing thread for synchronous callers.
"""

from probe.a2a import tools_from_card
from probe.limits import MAX_TOOLS, ProbeLimits
from probe.mcp import find_reply, reply_result
from probe.result import ProbeFailure, ProbeResult
from probe.scheduler import iter_probe_batches, probe_many, run_probes
from probe.target import Credential, CredentialScheme, ProbeTarget, Route

__all__ = [
    "Credential",
    "CredentialScheme",
    "MAX_TOOLS",
    "ProbeFailure",
    "ProbeLimits",
    "ProbeResult",
    "ProbeTarget",
    "Route",
    "find_reply",
    "iter_probe_batches",
    "probe_many",
    "reply_result",
    "run_probes",
    "tools_from_card",
]
