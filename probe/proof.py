"""Proofs that someone controls a domain: a DNS TXT record or an HTTPS well-known file.

Both are asked at once under one total deadline, through the probe's resolver (the
same name servers) and the probe's network rules: every address a name resolves
to is checked and the connection pinned to it, a redirect is followed only on the
same host, and at most ``MAX_BODY`` bytes of the file are read. Either proof
verifies; when neither does, each says why in words an owner can act on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiodns
import aiohttp
from aiohttp.resolver import AsyncResolver
from yarl import URL

from probe.http import REDIRECT_STATUSES
from probe.limits import ProbeLimits
from probe.netsafety import BlockedAddressError, SafeResolver, strangers_session
from probe.vocabulary import ProofMethod

USER_AGENT = "AdCP-Agent-Registry-Verification/1.0"
TXT_PREFIX = "_adcp-registry"
TXT_VALUE_PREFIX = "adcp-registry-verification="
WELL_KNOWN_PATH = "/.well-known/adcp-registry-verification"
MAX_BODY = 1024
MAX_TXT_RECORDS = 50


def txt_name(domain: str) -> str:
    return f"{TXT_PREFIX}.{domain}"


def txt_value(token: str) -> str:
    return TXT_VALUE_PREFIX + token


@dataclass(frozen=True)
class ProofOutcome:
    """The proof that verified (``None`` when none did) and, per proof that failed, why."""

    method: ProofMethod | None
    reasons: tuple[str, ...] = ()

    @property
    def error(self) -> str:
        return "; ".join(self.reasons)


def check_domain(domain: str, token: str, well_known_url: str, limits: ProbeLimits) -> ProofOutcome:
    """Ask both proofs from synchronous code, in a fresh event loop."""
    return asyncio.run(_check(domain, token, well_known_url, limits))


async def _check(domain: str, token: str, well_known_url: str, limits: ProbeLimits) -> ProofOutcome:
    try:
        async with asyncio.timeout(limits.deadline):
            by_dns, by_http = await asyncio.gather(
                _txt_proof(domain, token, limits), _http_proof(well_known_url, token, limits)
            )
    except TimeoutError:
        return ProofOutcome(None, (f"no proof answered within {limits.deadline:g} s",))
    if by_dns is None:
        return ProofOutcome(ProofMethod.DNS)
    if by_http is None:
        return ProofOutcome(ProofMethod.HTTP)
    return ProofOutcome(None, (by_dns, by_http))


async def _txt_proof(domain: str, token: str, limits: ProbeLimits) -> str | None:
    """``None`` when a TXT record at the name holds this token, else why not."""
    name = txt_name(domain)
    resolver = aiodns.DNSResolver(nameservers=list(limits.nameservers) or None, timeout=limits.deadline, tries=1)
    try:
        found = await resolver.query_dns(name, "TXT")
    except aiodns.error.DNSError as exc:
        code = exc.args[0] if exc.args else None
        if code in (aiodns.error.ARES_ENOTFOUND, aiodns.error.ARES_ENODATA):
            return f"no TXT record at {name}"
        return f"the TXT lookup of {name} failed ({exc.args[1] if len(exc.args) > 1 else 'DNS error'})"
    finally:
        await resolver.close()
    wanted = txt_value(token)
    for record in found.answer[:MAX_TXT_RECORDS]:
        data = getattr(record.data, "data", b"")
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        if text.strip() == wanted:
            return None
    return f"no TXT record at {name} holds this profile's token"


async def _http_proof(url: str, token: str, limits: ProbeLimits) -> str | None:
    """``None`` when the well-known file holds exactly this token, else why not."""
    dns = AsyncResolver(nameservers=list(limits.nameservers) or None, timeout=limits.deadline, tries=1)
    resolver = SafeResolver(limits.address_policy, dns)
    try:
        connector = aiohttp.TCPConnector(limit=0, resolver=resolver, force_close=True)
        async with strangers_session(connector, USER_AGENT) as session:
            return await _fetch_token(session, URL(url), token, limits)
    except BlockedAddressError as exc:
        return f"the well-known file is on an address the registry does not reach ({exc})"
    except aiohttp.ClientConnectorDNSError:
        return f"{URL(url).host} does not resolve"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return f"the well-known file could not be fetched ({type(exc).__name__})"
    finally:
        await resolver.close()


async def _fetch_token(session: aiohttp.ClientSession, target: URL, token: str, limits: ProbeLimits) -> str | None:
    host = target.host
    for _ in range(limits.max_redirects + 1):
        async with session.get(target, allow_redirects=False) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                following = target.join(URL(location))
                if following.host != host or following.scheme not in ("http", "https"):
                    return f"the well-known file redirects to another host ({following.host or following.scheme})"
                target = following
                continue
            if response.status != 200:
                return f"the well-known file answered {response.status}"
            body = await response.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return f"the well-known file is larger than {MAX_BODY} bytes"
        if body.decode("utf-8", "replace").strip() != token:
            return "the well-known file does not hold this profile's token"
        return None
    return f"the well-known file redirects more than {limits.max_redirects} times"
