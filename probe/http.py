"""HTTP for probes: checked redirects, the byte budget, JSON within item and depth bounds."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from probe.limits import MAX_JSON_ITEMS, Budget, ProbeLimits
from probe.netsafety import ip_literal
from probe.result import ProbeFailure
from probe.tools import clean_text
from probe.vocabulary import ProbeErrorKind

if TYPE_CHECKING:
    from probe.auth import SignIn

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


class HttpClient:
    """One probe's requests through the crawl's shared session, signed with the
    owner's credential where it belongs (probe.auth)."""

    def __init__(
        self, session: aiohttp.ClientSession, limits: ProbeLimits, budget: Budget, sign_in: SignIn | None = None
    ) -> None:
        self.session = session
        self.limits = limits
        self.budget = budget
        self.sign_in = sign_in

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https"):
            raise ProbeFailure(ProbeErrorKind.BLOCKED, f"refusing to follow a {url.scheme or 'relative'} URL")
        literal = ip_literal(url.raw_host or "")
        if literal is not None:
            self.limits.address_policy.check(literal)

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        redirects: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send, following redirects by hand so every hop's target is checked (and
        signed only on the agent's origin); ``redirects=False`` hands a redirect back
        unfollowed. A login wall raises: ``auth_required``, or ``auth_failed`` when
        credentials were sent."""
        target = URL(url, encoded=False)
        retried = False
        hops = 0
        while hops <= self.limits.max_redirects:
            self._check_target(target)
            signed = self.sign_in.headers_for(target) if self.sign_in is not None and sign else {}
            response = await self.session.request(
                method, target, data=body, headers={**(headers or {}), **signed}, allow_redirects=False
            )
            if response.status in (401, 403):
                challenge = response.headers.get("WWW-Authenticate", "")
                text = await _excerpt(response, self.budget)
                if self.sign_in is not None and sign and not retried and await self.sign_in.refresh(self, challenge):
                    retried = True
                    continue
                kind = ProbeErrorKind.AUTH_FAILED if signed else ProbeErrorKind.AUTH_REQUIRED
                why = "rejected the saved credentials" if signed else "requires authentication"
                raise ProbeFailure(kind, f"HTTP {response.status}: the agent {why}" + (f": {text}" if text else ""))
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location or not redirects:
                return response
            response.release()
            target = target.join(URL(location))
            hops += 1
        raise ProbeFailure(ProbeErrorKind.HTTP_STATUS, f"more than {self.limits.max_redirects} redirects")

    async def read_body(self, response: aiohttp.ClientResponse) -> bytes:
        if response.content_length is not None and response.content_length > self.budget.remaining:
            raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"the agent announced {response.content_length} bytes")
        parts: list[bytes] = []
        async for chunk in response.content.iter_chunked(CHUNK):
            self.budget.spend(len(chunk))
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self, response: aiohttp.ClientResponse) -> Any:
        """The body as it arrives, within the budget, letting other probes run between chunks."""
        async for chunk in response.content.iter_any():
            self.budget.spend(len(chunk))
            yield chunk
            await asyncio.sleep(0)


async def _excerpt(response: aiohttp.ClientResponse, budget: Budget, limit: int = 200) -> str:
    """The start of an error body, as the agent's own words for its owner."""
    async with response:
        try:
            chunk = await response.content.read(limit * 4)
        except (aiohttp.ClientError, TimeoutError):
            return ""
    budget.spend(len(chunk))
    # Cleaned (and so masked) before its whitespace is collapsed and it is cut.
    return " ".join(clean_text(chunk.decode("utf-8", "replace"), limit * 4).split())[:limit]


def same_origin(a: URL, b: URL) -> bool:
    """Scheme, host and port (a default port counts as given)."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


class InvalidJson(ProbeFailure):
    """Not JSON at all (as opposed to JSON too large or too deep)."""


def check_status(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        raise ProbeFailure(ProbeErrorKind.HTTP_STATUS, f"HTTP {response.status} {response.reason or ''}".strip())


def parse_json(body: bytes | str, what: str) -> Any:
    """JSON from a stranger: at most MAX_JSON_ITEMS structural items, no recursion blow-up."""
    # An upper bound on objects, arrays and members, counted in C before any is built.
    if isinstance(body, str):
        items = body.count(",") + body.count("{") + body.count("[")
    else:
        items = body.count(b",") + body.count(b"{") + body.count(b"[")
    if items > MAX_JSON_ITEMS:
        raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"{what} has more than {MAX_JSON_ITEMS:,} JSON items")
    try:
        return json.loads(body)
    except RecursionError:
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(ProbeErrorKind.PROTOCOL, f"{what} is not valid JSON ({exc.__class__.__name__})") from None
