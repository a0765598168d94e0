"""One probe of one agent: whatever happens, it ends as a result with an error kind."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from probe.a2a import probe_a2a
from probe.adcp import ask_declaration
from probe.auth import SignIn
from probe.http import HttpClient
from probe.limits import Budget, ProbeLimits
from probe.masking import masking
from probe.mcp import probe_mcp
from probe.netsafety import BlockedAddressError
from probe.result import ProbeFailure, ProbeResult
from probe.target import Credential, ProbeTarget, Route
from probe.tools import clean_text
from probe.vocabulary import ProbeErrorKind, Protocol, Transport

logger = logging.getLogger(__name__)

ERROR_MESSAGE_LIMIT = 500


class Prober:
    """Probes agents through one shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, limits: ProbeLimits) -> None:
        self.session = session
        self.limits = limits

    async def probe(self, target: ProbeTarget) -> ProbeResult:
        url, protocol, remembered, credential = target.url, target.protocol, target.route, target.credential
        with masking(credential.secrets if credential is not None else ()):
            return await self._probe(url, protocol, remembered, credential)

    async def _probe(
        self, url: str, protocol: str, remembered: Route | None, credential: Credential | None
    ) -> ProbeResult:
        started = time.monotonic()
        result = ProbeResult(url=url, protocol=protocol)
        try:
            async with asyncio.timeout(self.limits.deadline):
                sign_in = SignIn(credential, url) if credential is not None else None
                http = HttpClient(self.session, self.limits, Budget(self.limits.max_bytes), sign_in)
                if sign_in is not None:
                    await sign_in.prepare(http)
                if protocol == Protocol.A2A:
                    tools, declaration, card_url = await probe_a2a(http, url, remembered.endpoint if remembered else "")
                    result.adcp_protocols, result.adcp_versions = declaration.protocols, declaration.versions
                    route = Route(Transport.A2A, "", card_url)
                else:
                    findings = await probe_mcp(http, url, self.limits.max_pages, remembered)
                    try:
                        declaration = await ask_declaration(findings.session, findings.tools.names)
                    finally:
                        await findings.session.close()
                    tools, route = findings.tools, findings.route
                    result.adcp_protocols, result.adcp_versions = declaration.protocols, declaration.versions
            result.tools, result.tool_names, result.tools_truncated = tools.tools, tools.names, tools.truncated
            result.transport, result.protocol_version = route.transport, route.protocol_version
            result.endpoint = clean_text(route.endpoint, 2048)
        except Exception as exc:  # whatever a stranger's server causes ends as this agent's error kind
            result.error_kind, message = _error(exc, self.limits.deadline, url)
            result.error_message = clean_text(message, ERROR_MESSAGE_LIMIT)
        result.elapsed = time.monotonic() - started
        return result


def _error(exc: Exception, deadline: float, url: str) -> tuple[ProbeErrorKind, str]:
    if isinstance(exc, TimeoutError):
        return ProbeErrorKind.TIMEOUT, f"no complete answer within {deadline:g} s"
    if isinstance(exc, ProbeFailure):
        return exc.kind, exc.message
    if isinstance(exc, BlockedAddressError):
        return ProbeErrorKind.BLOCKED, str(exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ProbeErrorKind.DNS, f"{exc.host} does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProbeErrorKind.CONNECT, f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | OSError):
        return ProbeErrorKind.CONNECT, f"connection failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return ProbeErrorKind.BLOCKED, f"not a URL the probe will follow: {exc}"
    if isinstance(exc, aiohttp.ClientResponseError | ValueError):
        return ProbeErrorKind.PROTOCOL, f"malformed HTTP exchange: {type(exc).__name__}"
    if isinstance(exc, MemoryError):
        return ProbeErrorKind.TOO_LARGE, "the agent's reply exhausted the probe's memory"
    # A bug, or a reply no rule above foresaw: still only this agent's failure.
    logger.warning("probe of %s failed unexpectedly", url, exc_info=exc)
    return ProbeErrorKind.PROTOCOL, f"the probe could not read the agent's reply ({type(exc).__name__})"
