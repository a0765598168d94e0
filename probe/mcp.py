"""MCP in every dialect real agents speak, and the negotiation between them.

* **Modern** (2026-07-28, stateless): every request its own POST with
  ``MCP-Protocol-Version``, ``Mcp-Method`` (``Mcp-Name`` for ``tools/call``) and
  the envelope in ``params._meta``; ``server/discover``, then ``tools/list``.
* **Handshake** Streamable HTTP (2024-11-05 to 2025-11-25): ``initialize``,
  ``notifications/initialized``, then ``tools/list`` on the session.
* **Legacy HTTP+SSE** (2024-11-05): ``GET`` the SSE URL, read its ``endpoint``
  event, POST each message there and read the replies on the open stream.

Negotiation decides as the official client's ``mode='auto'``
(``mcp/client/_probe.py``) does, in fewer round trips: ``server/discover`` at the
newest modern version and ``initialize`` are sent together, as a browser races
IPv6 and IPv4, and a modern answer wins; -32022 naming another mutual modern
version retries discover once at it; otherwise the handshake's answer decides,
and its -32022 naming a modern version switches to it. ``notifications/initialized``
goes out beside the first request rather than before it (a server that refuses
a request ahead of it gets that request again once it has arrived). A POST
refused with 405 (or 404, as Express answers) is tried as an SSE endpoint. A
registered bare origin where nothing answers is tried at ``/mcp``, then ``/sse``.
So a first probe costs two sequential round trips in either dialect. Every route
that answered is returned, so the next crawl goes straight there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from yarl import URL

from probe.http import HttpClient, InvalidJson, parse_json, same_origin
from probe.result import ProbeFailure
from probe.sse import EventStreamTooLarge, ServerSentEvent, SSEParser
from probe.target import Route
from probe.tools import ToolList, clean_text
from probe.vocabulary import AUTH_ERROR_KINDS, ProbeErrorKind, Transport

MODERN_VERSION = "2026-07-28"
MODERN_VERSIONS = (MODERN_VERSION,)
HANDSHAKE_VERSION = "2025-06-18"
UNSUPPORTED_PROTOCOL_VERSION = -32022
CLIENT_INFO = {"name": "adcp-agent-registry-crawler", "version": "1.0"}
ACCEPT_BOTH = "application/json, text/event-stream"


class RpcError(ProbeFailure):
    """The agent answered with a JSON-RPC error (on any HTTP status)."""

    def __init__(self, method: str, code: object, message: object, data: object) -> None:
        super().__init__(
            ProbeErrorKind.PROTOCOL,
            f"{method} failed: JSON-RPC error {str(code)[:20]}: {clean_text(str(message), 200)}",
        )
        self.code = code
        self.data = data

    @property
    def supported_versions(self) -> list[str]:
        supported = self.data.get("supported") if isinstance(self.data, dict) else None
        return [v for v in supported if isinstance(v, str)] if isinstance(supported, list) else []


class Refused(ProbeFailure):
    """The agent refused the request at the HTTP layer, with no JSON-RPC body."""

    def __init__(self, status: int, reason: str | None) -> None:
        super().__init__(ProbeErrorKind.HTTP_STATUS, f"HTTP {status} {reason or ''}".strip())
        self.status = status


def _negotiated_version(result: dict[str, Any], default: str) -> str:
    version = result.get("protocolVersion")
    return clean_text(version, 32) if isinstance(version, str) else default


def _auth_or_server_error(response: aiohttp.ClientResponse) -> None:
    # 401/403 never get here: HttpClient.request raises auth_required or auth_failed.
    if response.status >= 500:
        raise ProbeFailure(ProbeErrorKind.HTTP_STATUS, f"HTTP {response.status} {response.reason or ''}".strip())


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
        raise RpcError(method, error.get("code", "?"), error.get("message", ""), error.get("data"))
    result = reply.get("result")
    if not isinstance(result, dict):
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, f"the {method} reply has no result object")
    return result


class Session(Protocol):
    @property
    def route(self) -> Route: ...

    async def call(self, method: str, params: dict[str, Any], *, name: str | None = None) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class _PostSession:
    """JSON-RPC over POST, replies as JSON or SSE, error bodies read on any 4xx."""

    transport = Transport.STREAMABLE_HTTP

    def __init__(self, http: HttpClient, endpoint: str, version: str) -> None:
        self.http = http
        self.endpoint = endpoint
        self.version = version
        self.next_id = 1

    @property
    def route(self) -> Route:
        return Route(self.transport, self.version, self.endpoint)

    def _headers(self, method: str, name: str | None) -> dict[str, str]:
        return {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    async def call(self, method: str, params: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": self._params(params)}
        response = await self.http.request(
            "POST", self.endpoint, body=json.dumps(payload).encode(), headers=self._headers(method, name)
        )
        async with response:
            _auth_or_server_error(response)
            self._remember(response)
            if response.content_type == "text/event-stream" and response.status < 400:
                reply = await _reply_on_stream(_events(self.http, response), request_id, method)
            elif response.status >= 400 and response.content_type != "application/json":
                raise Refused(response.status, response.reason)
            else:
                try:
                    reply = find_reply(
                        parse_json(await self.http.read_body(response), f"the {method} reply"), request_id
                    )
                except ProbeFailure:
                    if response.status >= 400:
                        raise Refused(response.status, response.reason) from None
                    raise
        return reply_result(reply, method)

    def _remember(self, response: aiohttp.ClientResponse) -> None:
        """Keep what the server told us about the conversation (handshake sessions)."""

    async def close(self) -> None:
        """Nothing stays open between requests."""


class ModernSession(_PostSession):
    """MCP 2026-07-28: no session, the envelope on every request."""

    def __init__(self, http: HttpClient, endpoint: str, version: str = MODERN_VERSION) -> None:
        super().__init__(http, endpoint, version)

    def _headers(self, method: str, name: str | None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": ACCEPT_BOTH,
            "MCP-Protocol-Version": self.version,
            "Mcp-Method": method,
        }
        if name is not None:
            headers["Mcp-Name"] = name
        return headers

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        meta = {
            "io.modelcontextprotocol/protocolVersion": self.version,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        }
        return {**params, "_meta": meta}


class _Announcing:
    """A session whose ``notifications/initialized`` rides beside its first request."""

    def __init__(self) -> None:
        self.unannounced = False

    async def _announce(self) -> None:
        raise NotImplementedError

    async def _announced(self, request: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        if not self.unannounced:
            return await request()
        self.unannounced = False
        notice = asyncio.ensure_future(self._announce())
        try:
            try:
                result = await request()
            except RpcError:
                if notice.done():
                    raise
                # A strict server refuses requests until the notification has arrived:
                # once it has, ask again.
                await notice
                return await request()
        except BaseException:
            notice.cancel()
            await asyncio.gather(notice, return_exceptions=True)
            raise
        await notice
        return result


class HandshakeSession(_PostSession, _Announcing):
    """Streamable HTTP with ``initialize`` and an optional ``Mcp-Session-Id``."""

    def __init__(self, http: HttpClient, endpoint: str) -> None:
        _PostSession.__init__(self, http, endpoint, version="")  # the server names it in its initialize answer
        _Announcing.__init__(self)
        self.session_id: str | None = None

    def _headers(self, method: str, name: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.version:
            headers["MCP-Protocol-Version"] = self.version
        return headers

    def _remember(self, response: aiohttp.ClientResponse) -> None:
        self.session_id = response.headers.get("Mcp-Session-Id", self.session_id)

    async def initialize(self) -> None:
        """``initialize``; the notification that completes it goes with the next request."""
        self.version = _negotiated_version(await super().call("initialize", _initialize_params()), HANDSHAKE_VERSION)
        self.unannounced = True

    async def call(self, method: str, params: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
        return await self._announced(lambda: super(HandshakeSession, self).call(method, params, name=name))

    async def _announce(self) -> None:
        body = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
        response = await self.http.request("POST", self.endpoint, body=body, headers=self._headers("", None))
        async with response:
            _auth_or_server_error(response)
            if response.status >= 400:
                raise Refused(response.status, response.reason)


class SseSession(_Announcing):
    """The legacy HTTP+SSE transport: replies arrive on a stream opened by GET."""

    transport = Transport.SSE

    def __init__(self, http: HttpClient, sse_url: str) -> None:
        super().__init__()
        self.http = http
        self.sse_url = sse_url
        self.post_url = ""
        self.version = ""
        self.next_id = 1
        self._response: aiohttp.ClientResponse | None = None
        self._events: AsyncIterator[ServerSentEvent] | None = None

    @property
    def route(self) -> Route:
        return Route(self.transport, self.version, self.sse_url)

    async def open(self) -> None:
        response = await self.http.request("GET", self.sse_url, headers={"Accept": "text/event-stream"})
        self._response = response
        _auth_or_server_error(response)
        if response.status >= 400:
            raise Refused(response.status, response.reason)
        if response.content_type != "text/event-stream":
            raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the SSE URL answered without an event stream")
        self._events = _events(self.http, response)
        async for event in self._events:
            if event.event == "endpoint":
                self.post_url = self._checked_endpoint(event.data)
                break
        else:
            raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the event stream ended without an endpoint event")
        self.version = _negotiated_version(await self.call("initialize", _initialize_params()), "2024-11-05")
        self.unannounced = True

    async def _announce(self) -> None:
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _checked_endpoint(self, data: str) -> str:
        base = URL(self.sse_url)
        target = base.join(URL(data.strip()))
        if not same_origin(target, base):
            raise ProbeFailure(ProbeErrorKind.BLOCKED, "the SSE endpoint event names another origin")
        return str(target)

    async def _post(self, payload: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        response = await self.http.request("POST", self.post_url, body=json.dumps(payload).encode(), headers=headers)
        async with response:
            _auth_or_server_error(response)
            if response.status >= 400:
                raise Refused(response.status, response.reason)

    async def call(self, method: str, params: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
        return await self._announced(lambda: self._call(method, params))

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self._events is not None, "open() first"
        request_id = self.next_id
        self.next_id += 1
        await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        reply = await _reply_on_stream(self._events, request_id, method)
        return reply_result(reply, method)

    async def close(self) -> None:
        if self._response is not None:
            self._response.close()


async def _events(http: HttpClient, response: aiohttp.ClientResponse) -> AsyncIterator[ServerSentEvent]:
    parser = SSEParser(max_event=http.budget.limit)
    async for chunk in http.chunks(response):
        try:
            events = parser.feed(chunk)
        except EventStreamTooLarge as exc:
            raise ProbeFailure(ProbeErrorKind.TOO_LARGE, str(exc)) from None
        for event in events:
            yield event


async def _reply_on_stream(events: AsyncIterator[ServerSentEvent], request_id: int, method: str) -> dict[str, Any]:
    """Our reply among the stream's messages; a server may keep the stream open for more."""
    async for event in events:
        if event.event != "message":
            continue
        try:
            message = parse_json(event.data, f"the {method} reply")
        except InvalidJson:
            continue  # another message on the stream; ours may follow
        if _is_reply_to(message, request_id):
            return message
    raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the event stream ended without a reply to the request")


def _initialize_params() -> dict[str, Any]:
    return {"protocolVersion": HANDSHAKE_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}


# --- Negotiation ---------------------------------------------------------------------


class _NotHere(Exception):
    """Nothing MCP answers at this endpoint (404, or 405 with no event stream)."""

    def __init__(self, failure: ProbeFailure) -> None:
        self.failure = failure


def _mutual_modern(supported: list[str]) -> str | None:
    mutual = [v for v in MODERN_VERSIONS if v in supported]
    return mutual[-1] if mutual else None


def _final(failure: ProbeFailure) -> bool:
    """Failures no other dialect would cure."""
    return failure.kind in (*AUTH_ERROR_KINDS, ProbeErrorKind.TOO_LARGE, ProbeErrorKind.BLOCKED) or (
        failure.kind == ProbeErrorKind.HTTP_STATUS and not isinstance(failure, Refused)
    )


async def _outcome(attempt: Awaitable[Any]) -> Any:
    """What the attempt returned, or what it raised: both attempts end before either decides."""
    try:
        return await attempt
    except Exception as exc:
        return exc


async def _negotiate(http: HttpClient, endpoint: str) -> Session:
    modern = ModernSession(http, endpoint)
    handshake = HandshakeSession(http, endpoint)
    discovered, initialized = await asyncio.gather(
        _outcome(modern.call("server/discover", {})), _outcome(handshake.initialize())
    )
    for outcome in (discovered, initialized):
        if isinstance(outcome, Exception) and not isinstance(outcome, ProbeFailure):
            raise outcome  # the connection itself failed: the prober names its kind
    if isinstance(discovered, ProbeFailure) and _final(discovered):
        raise discovered
    if isinstance(discovered, RpcError):
        mutual = _mutual_modern(discovered.supported_versions)
        if discovered.code == UNSUPPORTED_PROTOCOL_VERSION and mutual and mutual != modern.version:
            modern = ModernSession(http, endpoint, mutual)
            try:
                discovered = await modern.call("server/discover", {})
            except ProbeFailure as failure:
                discovered = failure
    if isinstance(discovered, dict):
        supported = discovered.get("supportedVersions")
        if isinstance(supported, list) and modern.version in supported:
            return modern
        # it answers discover but advertises no modern version: a handshake server
    if initialized is None:
        return handshake
    if isinstance(initialized, RpcError):
        mutual = _mutual_modern(initialized.supported_versions)
        if initialized.code == UNSUPPORTED_PROTOCOL_VERSION and mutual:
            return ModernSession(http, endpoint, mutual)  # a modern-only server that names its version
    # A POST refused with 405, or with 404 as Express answers ("Cannot POST"): the MCP
    # specification's backwards compatibility, and the SDKs' own fallback, then try an
    # event stream at the same URL before calling it not found.
    if not isinstance(initialized, Refused) or initialized.status not in (404, 405):
        raise initialized
    try:
        return await _opened_sse(http, endpoint)
    except Refused as refusal:
        raise _NotHere(initialized if initialized.status == 404 else refusal) from None


async def _opened_sse(http: HttpClient, sse_url: str) -> SseSession:
    sse = SseSession(http, sse_url)
    try:
        await sse.open()
    except BaseException:
        await sse.close()
        raise
    return sse


def candidate_endpoints(url: str) -> list[str]:
    """The registered URL, and for a bare origin the paths MCP servers use."""
    parsed = URL(url)
    if parsed.path not in ("", "/"):
        return [url]
    origin = str(parsed.origin())
    return [url, f"{origin}/mcp", f"{origin}/sse"]


async def _open_route(http: HttpClient, route: Route) -> Session:
    if route.transport == Transport.SSE:
        return await _opened_sse(http, route.endpoint)
    if route.protocol_version in MODERN_VERSIONS:
        return ModernSession(http, route.endpoint, route.protocol_version)
    handshake = HandshakeSession(http, route.endpoint)
    await handshake.initialize()
    return handshake


async def _listed(session: Session, max_pages: int) -> ToolList:
    """The session's tools, page by page; the session is closed if listing fails."""
    try:
        return await _list_tools(session, max_pages)
    except BaseException:
        await session.close()
        raise


async def _list_tools(session: Session, max_pages: int) -> ToolList:
    tools = ToolList()
    cursor: str | None = None
    seen_cursors: set[str] = set()
    for _ in range(max_pages):
        page = await session.call("tools/list", {"cursor": cursor} if cursor else {})
        page_tools = page.get("tools")
        if not isinstance(page_tools, list):
            raise ProbeFailure(ProbeErrorKind.PROTOCOL, "tools/list reply has no tools list")
        tools.add_mcp_tools(page_tools)
        cursor = page.get("nextCursor")
        if tools.truncated or not cursor or not isinstance(cursor, str) or cursor in seen_cursors:
            break
        seen_cursors.add(cursor)
    return tools


async def open_session(http: HttpClient, url: str, remembered: Route | None) -> Session:
    """The remembered route when it still answers, else a full negotiation."""
    if remembered is not None and remembered.transport in (Transport.STREAMABLE_HTTP, Transport.SSE):
        try:
            return await _open_route(http, remembered)
        except ProbeFailure as failure:
            if _final(failure):
                raise
    last: ProbeFailure | None = None
    for endpoint in candidate_endpoints(url):
        try:
            return await _negotiate(http, endpoint)
        except _NotHere as missing:
            last = missing.failure
    assert last is not None
    raise last


@dataclass
class McpFindings:
    tools: ToolList
    route: Route
    session: Session


async def probe_mcp(http: HttpClient, url: str, max_pages: int, remembered: Route | None = None) -> McpFindings:
    """Open a session and list the tools; the caller closes ``findings.session``."""
    session = await open_session(http, url, remembered)
    try:
        tools = await _listed(session, max_pages)
    except ProbeFailure as failure:
        if remembered is None or _final(failure):
            raise
        # The remembered route answered the handshake but not the listing: start over.
        session = await open_session(http, url, None)
        tools = await _listed(session, max_pages)
    return McpFindings(tools=tools, route=session.route, session=session)
