"""Where a probe may connect: public addresses only, unless explicitly allowed.

Checked on every resolved address (a custom aiohttp resolver) and on every IP
literal in a URL, including each redirect hop, so neither a DNS name pointing
at 10.0.0.1 nor a redirect to http://169.254.169.254/ gets through. aiohttp
connects to the addresses the resolver returned, so the connection is pinned to
the checked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import defaultdict
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import AsyncResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(Exception):
    """The target resolves to an address probes must not reach."""


def is_public_address(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1 and 64:ff9b::/96 etc. are judged by the IPv4 address inside.
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_public_address(mapped)
        if address.teredo is not None:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # fec0::/10, deprecated site-local, is not "private" to ipaddress.
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses probes may reach: public ones, plus what is explicitly allowed.

    ``allow_private`` opens everything (tests, the demo); ``allowed_networks``
    opens just those networks (e.g. 127.0.0.0/8 for a fleet on loopback).
    """

    allow_private: bool = False
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls) -> AddressPolicy:
        from django.conf import settings

        return cls(
            allow_private=settings.AGENT_PROBE_ALLOW_PRIVATE,
            allowed_networks=tuple(ipaddress.ip_network(n) for n in settings.AGENT_PROBE_ALLOWED_NETWORKS),
        )

    def check(self, text: str) -> None:
        """Raise BlockedAddressError unless ``text`` is an address probes may reach."""
        if self.allow_private:
            return
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise BlockedAddressError(f"{text!r} is not an IP address") from None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return
        if not is_public_address(address):
            raise BlockedAddressError(f"{address} is a private, loopback, link-local or reserved address")


def ip_literal(host: str) -> str | None:
    """The host as an IP address string when it is one (brackets stripped)."""
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _domain(host: str) -> str:
    """The name a hostile operator controls: lookups under it share a limit."""
    return ".".join(host.lower().rstrip(".").rsplit(".", 2)[-2:])


class SafeResolver(AbstractResolver):
    """Resolve asynchronously (c-ares through aiodns, cancellable: the probe's
    deadline ends a lookup), a few lookups per domain at a time, then refuse the
    name when any address is not allowed."""

    def __init__(
        self, policy: AddressPolicy, resolver: AbstractResolver | None = None, *, lookups_per_domain: int = 4
    ) -> None:
        self._resolver = resolver or AsyncResolver()
        self._policy = policy
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(lookups_per_domain))

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        async with self._slots[_domain(host)]:
            results = await self._resolver.resolve(host, port, family)
        # Refuse the name if any address is bad: a name that resolves to both a
        # public and a private address is a rebinding attempt, not a mistake.
        for result in results:
            self._policy.check(result["host"])
        return results

    async def close(self) -> None:
        await self._resolver.close()


def check_url_target(url: str, policy: AddressPolicy) -> None:
    """Refuse, before any probe, a URL whose host is or resolves to a blocked address.

    A name that does not resolve passes: the probe reports it as a DNS failure.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = ip_literal(host)
    if literal is not None:
        policy.check(literal)
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return
    for info in infos:
        policy.check(str(info[4][0]))


def strangers_session(connector: aiohttp.TCPConnector, user_agent: str) -> aiohttp.ClientSession:
    """A session for talking to strangers' servers: no cookies kept, no proxy or
    credentials from the environment, no session-wide timeout (each caller sets its
    own total deadline), the connector's checked resolver pinning every address."""
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        trust_env=False,
    )
