"""The probe: ask an agent which tools it advertises, over MCP or A2A.

Async on aiohttp: one session per batch, many probes in flight under a
semaphore, a hard deadline per probe, a byte budget on everything read, manual
redirects so every hop is checked, and every resolved address checked before
connecting (crawler.netsafety).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from crawler.netsafety import AddressPolicy, BlockedAddressError, SafeResolver, ip_literal
from crawler.sse import SSEParser
from registry.types import ProbeErrorKind, Protocol

logger = logging.getLogger(__name__)

USER_AGENT = "AdCP-Agent-Registry-Crawler/1.0 (+registry probe; tools/list and agent cards only)"
MCP_PROTOCOL_VERSION = "2025-06-18"
A2A_CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


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

    @classmethod
    def from_settings(cls, **overrides: Any) -> ProbeLimits:
        from django.conf import settings

        values: dict[str, Any] = {
            "deadline": settings.AGENT_PROBE_TIMEOUT,
            "max_bytes": settings.AGENT_PROBE_MAX_BYTES,
            "address_policy": AddressPolicy(
                allow_private=settings.AGENT_PROBE_ALLOW_PRIVATE,
                allowed_networks=tuple(ipaddress.ip_network(n) for n in settings.AGENT_PROBE_ALLOWED_NETWORKS),
            ),
            "concurrency": settings.AGENT_PROBE_CONCURRENCY,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class ProbeResult:
    url: str
    protocol: str
    tool_names: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
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


class _Budget:
    """The bytes one probe may still read, across all its responses."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.remaining = limit

    def spend(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"the agent sent more than {self.limit} bytes")


def _check_status(response: aiohttp.ClientResponse) -> None:
    if response.status in (401, 403):
        raise ProbeFailure(ProbeErrorKind.OAUTH_REQUIRED, f"HTTP {response.status}: the agent requires authentication")
    if response.status >= 400:
        raise ProbeFailure(ProbeErrorKind.HTTP_STATUS, f"HTTP {response.status} {response.reason or ''}".strip())


async def _read_body(response: aiohttp.ClientResponse, budget: _Budget) -> bytes:
    if response.content_length is not None and response.content_length > budget.remaining:
        raise ProbeFailure(ProbeErrorKind.TOO_LARGE, f"the agent announced {response.content_length} bytes")
    parts: list[bytes] = []
    async for chunk in response.content.iter_chunked(_CHUNK):
        budget.spend(len(chunk))
        parts.append(chunk)
    return b"".join(parts)


def _parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, f"{what} is not valid JSON ({exc.__class__.__name__})") from None


def _is_reply_to(message: Any, request_id: int) -> bool:
    return isinstance(message, dict) and message.get("id") == request_id and ("result" in message or "error" in message)


# The parsers below take whatever JSON an agent sent and either return what the
# probe needs or raise ProbeFailure: nothing else, whatever the input.


def find_reply(message: Any, request_id: int) -> dict[str, Any]:
    """Our reply in a JSON-RPC message or batch."""
    candidates = message if isinstance(message, list) else [message]
    for candidate in candidates:
        if _is_reply_to(candidate, request_id):
            return candidate
    raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the reply is not a JSON-RPC response to the request")


def reply_result(reply: dict[str, Any], method: str) -> dict[str, Any]:
    """The result object of a JSON-RPC reply, or the error it carries."""
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], dict) else {}
        raise ProbeFailure(
            ProbeErrorKind.PROTOCOL,
            f"{method} failed: JSON-RPC error {str(error.get('code', '?'))[:20]}: "
            f"{str(error.get('message', ''))[:200]}",
        )
    result = reply.get("result")
    if not isinstance(result, dict):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, f"the {method} reply has no result object")
    return result


def tools_from_card(card: Any) -> list[dict[str, Any]]:
    """An A2A agent card's skills as tools, named by ``id`` (else ``name``)."""
    if not isinstance(card, dict) or not ({"skills", "name"} & card.keys()):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the reply is not an A2A agent card")
    skills = card.get("skills") or []
    if not isinstance(skills, list):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the agent card's skills are not a list")
    return [
        {**skill, "name": skill.get("id") or skill.get("name")}
        for skill in skills
        if isinstance(skill, dict) and isinstance(skill.get("id") or skill.get("name"), str)
    ]


class Prober:
    """Probes agents through one shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, limits: ProbeLimits) -> None:
        self.session = session
        self.limits = limits

    async def probe(self, url: str, protocol: str) -> ProbeResult:
        started = time.monotonic()
        result = ProbeResult(url=url, protocol=protocol)
        try:
            async with asyncio.timeout(self.limits.deadline):
                budget = _Budget(self.limits.max_bytes)
                if protocol == Protocol.A2A:
                    tools = await self._probe_a2a(url, budget)
                else:
                    tools = await self._probe_mcp(url, budget)
            result.tools = tools
            result.tool_names = _tool_names(tools)
        except TimeoutError:
            result.error_kind, result.error_message = (
                ProbeErrorKind.TIMEOUT,
                f"no complete answer within {self.limits.deadline:g} s",
            )
        except ProbeFailure as failure:
            result.error_kind, result.error_message = failure.kind, failure.message
        except BlockedAddressError as exc:
            result.error_kind, result.error_message = ProbeErrorKind.BLOCKED, str(exc)
        except aiohttp.ClientConnectorDNSError as exc:
            result.error_kind, result.error_message = ProbeErrorKind.DNS, f"{exc.host} does not resolve"
        except aiohttp.ClientConnectorError as exc:
            result.error_kind, result.error_message = (
                ProbeErrorKind.CONNECT,
                f"cannot connect to {exc.host}:{exc.port} ({exc.strerror or exc.__class__.__name__})",
            )
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            result.error_kind, result.error_message = (
                ProbeErrorKind.CONNECT,
                f"connection failed: {exc.__class__.__name__}: {exc}",
            )
        except aiohttp.InvalidURL as exc:
            result.error_kind, result.error_message = ProbeErrorKind.BLOCKED, f"not a URL the probe will follow: {exc}"
        except (aiohttp.ClientResponseError, ValueError) as exc:
            result.error_kind, result.error_message = (
                ProbeErrorKind.PROTOCOL,
                f"malformed HTTP exchange: {exc.__class__.__name__}",
            )
        result.error_message = result.error_message[:500]
        result.elapsed = time.monotonic() - started
        return result

    # --- HTTP with checked redirects ------------------------------------------------

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https"):
            raise ProbeFailure(ProbeErrorKind.BLOCKED, f"refusing to follow a {url.scheme or 'relative'} URL")
        literal = ip_literal(url.raw_host or "")
        if literal is not None:
            self.limits.address_policy.check(literal)

    async def _request(
        self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        target = URL(url, encoded=False)
        for _ in range(self.limits.max_redirects + 1):
            self._check_target(target)
            response = await self.session.request(method, target, data=body, headers=headers, allow_redirects=False)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
            response.release()
            target = target.join(URL(location))
        raise ProbeFailure(ProbeErrorKind.HTTP_STATUS, f"more than {self.limits.max_redirects} redirects")

    # --- MCP (Streamable HTTP) -------------------------------------------------------

    async def _probe_mcp(self, url: str, budget: _Budget) -> list[dict[str, Any]]:
        session = _McpSession(self, url, budget)
        await session.call(
            "initialize",
            {
                "protocolVersion": MCP_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "adcp-agent-registry-crawler", "version": "1.0"},
            },
        )
        await session.notify("notifications/initialized")
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for _ in range(self.limits.max_pages):
            page = await session.call("tools/list", {"cursor": cursor} if cursor else {})
            page_tools = page.get("tools")
            if not isinstance(page_tools, list):
                raise ProbeFailure(ProbeErrorKind.PROTOCOL, "tools/list reply has no tools list")
            tools.extend(t for t in page_tools if isinstance(t, dict) and isinstance(t.get("name"), str))
            cursor = page.get("nextCursor")
            if not cursor or not isinstance(cursor, str) or cursor in seen_cursors:
                break
            seen_cursors.add(cursor)
        return tools

    # --- A2A ---------------------------------------------------------------------------

    async def _probe_a2a(self, url: str, budget: _Budget) -> list[dict[str, Any]]:
        candidates = [url] if url.endswith(".json") else [url.rstrip("/") + path for path in A2A_CARD_PATHS]
        for index, card_url in enumerate(candidates):
            response = await self._request("GET", card_url, headers={"Accept": "application/json"})
            async with response:
                if response.status in (404, 405, 410) and index + 1 < len(candidates):
                    continue
                _check_status(response)
                card = _parse_json(await _read_body(response, budget), "the agent card")
            return tools_from_card(card)
        raise AssertionError("unreachable: the last candidate either returns or raises")


class _McpSession:
    """One MCP conversation: JSON-RPC over POST, replies as JSON or SSE."""

    def __init__(self, prober: Prober, url: str, budget: _Budget) -> None:
        self.prober = prober
        self.url = url
        self.budget = budget
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.next_id = 1

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    async def notify(self, method: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "method": method}).encode()
        response = await self.prober._request("POST", self.url, body=body, headers=self._headers())
        async with response:
            _check_status(response)

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
        response = await self.prober._request("POST", self.url, body=body, headers=self._headers())
        async with response:
            _check_status(response)
            self.session_id = response.headers.get("Mcp-Session-Id", self.session_id)
            if response.content_type == "text/event-stream":
                reply = await self._read_sse_reply(response, request_id)
            else:
                reply = find_reply(
                    _parse_json(await _read_body(response, self.budget), f"the {method} reply"), request_id
                )
        result = reply_result(reply, method)
        if method == "initialize" and isinstance(result.get("protocolVersion"), str):
            self.protocol_version = result["protocolVersion"][:32]
        return result

    async def _read_sse_reply(self, response: aiohttp.ClientResponse, request_id: int) -> dict[str, Any]:
        parser = SSEParser()
        # Stop at our reply: a server may keep the stream open for notifications.
        async for chunk in response.content.iter_any():
            self.budget.spend(len(chunk))
            for event in parser.feed(chunk):
                if event.event != "message":
                    continue
                try:
                    message = json.loads(event.data)
                except ValueError:
                    continue
                if _is_reply_to(message, request_id):
                    return message
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the event stream ended without a reply to the request")


def _tool_names(tools: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for tool in tools:
        name = tool.get("name")
        if isinstance(name, str) and name.strip():
            names.setdefault(name.strip()[:200], None)
    return list(names)


Sink = Callable[[int, ProbeResult], None]


async def probe_many(
    targets: Sequence[tuple[str, str]], limits: ProbeLimits, sink: Sink | None = None
) -> list[ProbeResult]:
    """Probe ``(url, protocol)`` pairs concurrently; results in the same order.

    ``sink(index, result)`` is called as each probe finishes, for callers that
    write results while slower probes are still running.
    """
    if not targets:
        return []
    loop = asyncio.get_running_loop()
    # DNS lookups run in threads; the default pool (cores + 4) would serialise them.
    executor = ThreadPoolExecutor(max_workers=min(64, max(4, limits.concurrency)), thread_name_prefix="probe-dns")
    loop.set_default_executor(executor)
    connector = aiohttp.TCPConnector(
        limit=0,  # the semaphores below bound the sockets
        resolver=SafeResolver(limits.address_policy),
        ttl_dns_cache=60,
        enable_cleanup_closed=True,
    )
    active = asyncio.Semaphore(limits.concurrency)
    slow = asyncio.Semaphore(limits.concurrency * limits.slow_pool_factor)
    async with aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        trust_env=False,
    ) as session:
        prober = Prober(session, limits)

        async def probe_slotted(url: str, protocol: str) -> ProbeResult:
            async with active:
                task = asyncio.ensure_future(prober.probe(url, protocol))
                done, _ = await asyncio.wait({task}, timeout=limits.slow_after)
                if done:
                    return task.result()
                # Take a slow slot before giving up the active one: sockets stay bounded.
                await slow.acquire()
            try:
                return await task
            finally:
                slow.release()

        async def one(index: int, url: str, protocol: str) -> ProbeResult:
            result = await probe_slotted(url, protocol)
            if sink is not None:
                sink(index, result)
            return result

        return await asyncio.gather(*(one(i, url, protocol) for i, (url, protocol) in enumerate(targets)))


def run_probes(targets: Sequence[tuple[str, str]], limits: ProbeLimits) -> list[ProbeResult]:
    """Probe from synchronous code in a fresh event loop; results in order."""
    return asyncio.run(probe_many(targets, limits))


def iter_probe_batches(
    targets: Sequence[tuple[str, str]], limits: ProbeLimits, *, max_batch: int = 500, max_wait: float = 0.5
) -> Iterator[list[tuple[int, ProbeResult]]]:
    """Yield ``(index, result)`` batches as probes finish, from a probing thread.

    The event loop runs in its own thread and never touches the database; the
    caller's thread writes each batch while slower probes are still in flight.
    """
    finished: queue.Queue[Any] = queue.Queue()
    done = object()

    def run() -> None:
        try:
            asyncio.run(probe_many(targets, limits, sink=lambda i, r: finished.put((i, r))))
        except BaseException as exc:  # handed to the caller's thread
            finished.put(exc)
        finally:
            finished.put(done)

    thread = threading.Thread(target=run, name="probe-loop", daemon=True)
    thread.start()
    batch: list[tuple[int, ProbeResult]] = []
    batch_started = 0.0
    while True:
        timeout = None if not batch else max(0.0, batch_started + max_wait - time.monotonic())
        try:
            item = finished.get(timeout=timeout)
        except queue.Empty:
            yield batch
            batch = []
            continue
        if item is done:
            break
        if isinstance(item, BaseException):
            raise item
        if not batch:
            batch_started = time.monotonic()
        batch.append(item)
        if len(batch) >= max_batch:
            yield batch
            batch = []
    thread.join()
    if batch:
        yield batch
