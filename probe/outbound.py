"""Posting to strangers' endpoints (webhooks) under the probe's network rules.

Every address a name resolves to is checked and the connection pinned to it (the
probe's resolver), so a name that re-resolves between a check and the connection
reaches nothing private; an IP literal is checked before connecting; no redirect
is followed; each attempt has one total deadline (connect, send and read
together), and at most ``response_limit`` bytes of the answer are read. Many
posts are in flight at once, so one slow endpoint delays only itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp.resolver import AsyncResolver
from yarl import URL

from probe.netsafety import AddressPolicy, BlockedAddressError, SafeResolver, ip_literal, strangers_session

USER_AGENT = "AdCP-Agent-Registry-Webhooks/1.0"


@dataclass(frozen=True)
class Post:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Posted:
    """What came of one post: an HTTP status, or why there was none."""

    status: int | None
    error: str = ""
    blocked: bool = False  # the address is refused: trying again cannot help
    latency_ms: int | None = None


@dataclass(frozen=True)
class OutboundLimits:
    deadline: float = 5.0
    concurrency: int = 10
    response_limit: int = 4096
    address_policy: AddressPolicy = AddressPolicy()
    nameservers: tuple[str, ...] = ()


def post_many(posts: Sequence[Post], limits: OutboundLimits) -> list[Posted]:
    """Post them all from synchronous code, in a fresh event loop; results in order."""
    return asyncio.run(_post_all(posts, limits)) if posts else []


async def _post_all(posts: Sequence[Post], limits: OutboundLimits) -> list[Posted]:
    dns = AsyncResolver(nameservers=list(limits.nameservers) or None, timeout=limits.deadline, tries=1)
    resolver = SafeResolver(limits.address_policy, dns)
    slots = asyncio.Semaphore(limits.concurrency)
    try:
        connector = aiohttp.TCPConnector(limit=0, resolver=resolver, force_close=True)
        async with strangers_session(connector, USER_AGENT) as session:

            async def one(post: Post) -> Posted:
                async with slots:
                    return await _post(session, post, limits)

            return await asyncio.gather(*(one(post) for post in posts))
    finally:
        await resolver.close()


async def _post(session: aiohttp.ClientSession, post: Post, limits: OutboundLimits) -> Posted:
    started = time.monotonic()
    try:
        target = URL(post.url)
        if target.scheme not in ("http", "https"):
            raise BlockedAddressError(f"not an http(s) URL: {target.scheme or 'relative'}")
        if (literal := ip_literal(target.raw_host or "")) is not None:
            limits.address_policy.check(literal)
        async with asyncio.timeout(limits.deadline):
            async with session.post(target, data=post.body, headers=post.headers, allow_redirects=False) as response:
                await response.content.read(limits.response_limit)
                status = response.status
    except BlockedAddressError as exc:
        return Posted(None, f"blocked: {exc}", blocked=True)
    except TimeoutError:
        return Posted(None, f"no answer within {limits.deadline:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Posted(None, type(exc).__name__)
    return Posted(status, latency_ms=round((time.monotonic() - started) * 1000))
