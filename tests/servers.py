"""Real servers on 127.0.0.1 for the probe tests: official MCP/A2A agents and hostile ones."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from aiohttp import web
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo.fleet import (
    ModernOnly,
    a2a_card_routes,
    adcp3_mcp_server,
    buffered_body,
    combine,
    mcp_routes,
    mcp_server,
    sse_routes,
)


class ServerThread:
    """Serve an ASGI app on 127.0.0.1 from a background thread (tests, the demo)."""

    def __init__(self, app: Any, port: int = 0) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server thread died on start-up")
            threading.Event().wait(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def paginated_mcp_server(name: str, pages: Sequence[Sequence[str]]) -> Any:
    """A low-level MCP Server whose tools/list is split into pages with cursors."""
    from mcp.server.lowlevel import Server
    from mcp.types import ListToolsResult, Tool

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        cursor = getattr(params, "cursor", None) if params else None
        index = int(cursor) if cursor else 0
        tools = [Tool(name=n, input_schema={"type": "object"}) for n in pages[index]]
        return ListToolsResult(tools=tools, next_cursor=str(index + 1) if index + 1 < len(pages) else None)

    return Server(name, on_list_tools=list_tools)


SALES_TOOLS = ["get_products", "create_media_buy"]
PAGES = [["echo", "ping"], ["list_creative_formats", "status"], ["build_creative"]]


def official_agents_app() -> Any:
    """Agents built with the official packages, one per path."""
    return combine(
        [
            mcp_routes(mcp_server("json", SALES_TOOLS), "/json/mcp", json_response=True),
            mcp_routes(mcp_server("sse", ["get_signals", "ping"]), "/sse/mcp"),
            mcp_routes(paginated_mcp_server("paged", PAGES), "/paged/mcp", json_response=True),
            mcp_routes(mcp_server("empty", ["echo"]), "/empty/mcp"),
        ],
        [
            *a2a_card_routes("card", ["get_products"], card_url="/card/.well-known/agent-card.json"),
            *a2a_card_routes(
                "adcp-card",
                ["get_products", "plan_campaign"],
                card_url="/adcp-card/.well-known/agent-card.json",
                adcp_protocols=["media_buy"],
            ),
            *a2a_card_routes("legacy", ["build_creative"], card_url="/legacy/.well-known/agent.json"),
        ],
    )


# Requests per (path, JSON-RPC method or HTTP method) at the dialects server.
DIALECT_REQUESTS: Counter[tuple[str, str]] = Counter()
HANDSHAKE_STATUS = {-32600: 400, -32000: 400, -32601: 404}


async def _handshake_only(request: Request) -> Response:
    """A server that knows only the initialize handshake and refuses a modern request
    as SDK 1.x (-32600, 400) or TypeScript servers (-32000; -32601) do."""
    code = int(request.path_params["code"])
    message = json.loads(await request.body())
    if "id" not in message:
        return Response(status_code=202)
    if request.headers.get("mcp-protocol-version") == "2026-07-28":
        error = {"code": code, "message": "Bad Request: Server not initialized"}
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error}, status_code=HANDSHAKE_STATUS[code])
    if message["method"] == "initialize":
        result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "old"}}
    else:
        result = {"tools": [{"name": "get_products"}]}
    return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})


class _CountRequests:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, replay = await buffered_body(receive) if scope["method"] == "POST" else (b"", receive)
        try:
            method = json.loads(body).get("method", "?") if body else scope["method"]
        except (ValueError, AttributeError):
            method = "?"
        DIALECT_REQUESTS[(scope["path"], method)] += 1
        await self.app(scope, replay, send)


def dialects_app() -> Any:
    """Agents in every dialect the probe must speak, built with the official packages."""
    app = combine(
        [
            mcp_routes(mcp_server("stateful", SALES_TOOLS), "/stateful/mcp"),
            mcp_routes(mcp_server("stateless", SALES_TOOLS), "/stateless/mcp", json_response=True, stateless=True),
            mcp_routes(mcp_server("modern", SALES_TOOLS), "/modern-only/mcp", json_response=True),
            sse_routes(mcp_server("legacy", ["get_signals", "ping"]), "/legacy"),
            sse_routes(mcp_server("express", ["get_signals", "ping"]), "/express"),
            mcp_routes(mcp_server("origin", ["build_creative"]), "/mcp"),
            mcp_routes(adcp3_mcp_server("civic", ["governance"], ["sync_plans"]), "/governance/mcp"),
            mcp_routes(adcp3_mcp_server("marque", ["brand"], ["get_brand_identity", "get_rights"]), "/brand/mcp"),
            mcp_routes(adcp3_mcp_server("gauge", ["measurement"], ["get_measurement_report"]), "/measurement/mcp"),
            mcp_routes(
                adcp3_mcp_server("adcp3-sales", ["creative", "media_buy"], ["update_media_buy", "sync_creatives"]),
                "/adcp3-sales/mcp",
            ),
        ],
        [
            Route("/handshake/{code}/mcp", _handshake_only, methods=["POST"]),
            *a2a_card_routes("card", ["get_products"], card_url="/card/.well-known/agent-card.json"),
            *a2a_card_routes(
                "adcp-card",
                ["get_products", "plan_campaign"],
                card_url="/adcp-card/.well-known/agent-card.json",
                adcp_protocols=["media_buy"],
            ),
            # Where the A2A specification puts the card: the origin's, for the agent at /a2a/jsonrpc.
            *a2a_card_routes("jsonrpc", ["get_products"], card_url="/.well-known/agent-card.json"),
        ],
    )
    return _CountRequests(CannotPost(ModernOnly(app, ["/modern-only/mcp"]), ["/express/sse"]))


class CannotPost:
    """ASGI wrapper: a POST to these paths is Express's 404 "Cannot POST", as a legacy
    HTTP+SSE server built on Express answers the probe's first request."""

    def __init__(self, app: Any, paths: Sequence[str]) -> None:
        self.app, self.paths = app, set(paths)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            page = f"<pre>Cannot POST {scope['path']}</pre>"
            await Response(page, status_code=404, media_type="text/html")(scope, receive, send)
            return
        await self.app(scope, receive, send)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def method_not_found(message: dict[str, Any]) -> web.StreamResponse | None:
    """What a handshake-only server (SDK 1.x, hand-written) answers a method it does not know."""
    if message.get("method") in ("initialize", "tools/list"):
        return None
    error = {"code": -32601, "message": f"Method not found: {message.get('method')}"}
    return web.json_response({"jsonrpc": "2.0", "id": message.get("id"), "error": error})


async def _never(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3600)
    return web.Response()


async def _drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for _ in range(3600):
        await response.write(b" ")
        await asyncio.sleep(1)
    return response


async def _huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b"x" * (1024 * 1024)
    for _ in range(20):
        await response.write(chunk)
    return response


async def _huge_announced(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"[" + b"1," * (10 * 1024 * 1024) + b"1]", content_type="application/json")


async def _invalid_json(request: web.Request) -> web.StreamResponse:
    return web.Response(text="{this is not json", content_type="application/json")


async def _sse_garbage(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: {broken\n\nevent: message\ndata: \xff\xfe\x00garbage\n\n:comment\nretry: x\n\n")
    return response


async def _status(request: web.Request) -> web.StreamResponse:
    return web.Response(status=int(request.match_info["code"]), text="no")


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPTemporaryRedirect(request.query["to"])


async def _jsonrpc_error(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    return web.json_response(
        {"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32601, "message": "no such method"}}
    )


async def _whoami(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    error = {"code": -1, "message": request.headers.get("User-Agent", "")}
    return web.json_response({"jsonrpc": "2.0", "id": body.get("id"), "error": error})


async def _not_an_agent(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html>Welcome to nginx</html>", content_type="text/html")


async def _sse_kept_open(request: web.Request) -> web.StreamResponse:
    """A hand-written MCP endpoint that answers over SSE and never closes the stream."""
    message = await request.json()
    if "id" not in message:
        return web.Response(status=202)
    if (unknown := method_not_found(message)) is not None:
        return unknown
    if message["method"] == "initialize":
        result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "open"}}
    else:
        result = {"tools": [{"name": "get_products"}]}
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Mcp-Session-Id": "open-1"})
    await response.prepare(request)
    await response.write(b'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n')
    reply = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
    # The reply split across writes, as a real stream may deliver it.
    await response.write(b"event: message\r\ndata: " + reply[:10])
    await response.write(reply[10:] + b"\r\n\r\n")
    await asyncio.sleep(3600)
    return response


COUNTED_HITS: list[str] = []
# tools/list requests per /slow/{index}/mcp agent.
SLOW_TOOL_LISTS: Counter[int] = Counter()


async def _counted(request: web.Request) -> web.StreamResponse:
    """A plain JSON MCP sales agent that counts the requests it receives."""
    message = await request.json()
    COUNTED_HITS.append(message.get("method", ""))
    if "id" not in message:
        return web.Response(status=202)
    if (unknown := method_not_found(message)) is not None:
        return unknown
    if message["method"] == "initialize":
        result: dict[str, Any] = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "serverInfo": {"name": "counted"},
        }
    else:
        result = {"tools": [{"name": "get_products"}, {"name": "create_media_buy"}]}
    return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})


async def _slow_sales(request: web.Request) -> web.StreamResponse:
    """MCP sales agents that take 50 ms per request (for the fault tests); counts each one's tools/list."""
    message = await request.json()
    if "id" not in message:
        return web.Response(status=202)
    if (unknown := method_not_found(message)) is not None:
        return unknown
    await asyncio.sleep(0.05)
    if message["method"] == "initialize":
        result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "slow"}}
    else:
        SLOW_TOOL_LISTS[int(request.match_info["index"])] += 1
        result = {"tools": [{"name": "get_products"}]}
    return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})


# --- Agents whose replies attack the crawler (issue: a crawler no hostile agent can hurt) ---

ROUND_TRIP = 0.2
# (JSON-RPC method, arrival on the loop's clock) per request to /timed/mcp.
TIMED_ARRIVALS: list[tuple[str, float]] = []


async def _timed(request: web.Request) -> web.StreamResponse:
    """A handshake-era agent (SDK 1.x: no server/discover) that takes ROUND_TRIP to
    answer anything, the notification included, and notes when each request arrived."""
    message = await request.json()
    TIMED_ARRIVALS.append((message.get("method", ""), asyncio.get_running_loop().time()))
    await asyncio.sleep(ROUND_TRIP)
    if "id" not in message:
        return web.Response(status=202)
    if (unknown := method_not_found(message)) is not None:
        return unknown
    if message["method"] == "initialize":
        result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "timed"}}
    else:
        result = {"tools": [{"name": "get_products"}]}
    return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})


# Sessions of /strict/mcp that have received notifications/initialized.
STRICT_ANNOUNCED: set[str] = set()


async def _strict(request: web.Request) -> web.StreamResponse:
    """A session server that refuses any request before notifications/initialized has
    arrived, and is slow to take the notification in, so a request sent beside it wins."""
    message = await request.json()
    session = request.headers.get("Mcp-Session-Id", "")
    if message.get("method") == "notifications/initialized":
        await asyncio.sleep(0.2)
        STRICT_ANNOUNCED.add(session)
        return web.Response(status=202)
    if (unknown := method_not_found(message)) is not None:
        return unknown
    if message["method"] == "initialize":
        session = f"strict-{len(STRICT_ANNOUNCED)}-{id(request)}"
        result: dict[str, Any] = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "strict"}}
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        return web.json_response(reply, headers={"Mcp-Session-Id": session})
    if session not in STRICT_ANNOUNCED:
        error = {"code": -32600, "message": "Received request before initialization was complete"}
        return web.json_response({"jsonrpc": "2.0", "id": message["id"], "error": error}, status=400)
    reply = {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": [{"name": "get_signals"}]}}
    return web.json_response(reply)


NESTING = 100_000
DEEP_JSON = b'{"jsonrpc":"2.0","id":2,"result":' + b"[" * NESTING + b"]" * NESTING + b"}"
MANY_TOOLS = 215_000
CASE_VARIANTS = 50_000


def case_variants(name: str, count: int) -> list[str]:
    """``count`` distinct case spellings of ``name`` (the bits of n pick the upper-case letters)."""
    bit_of = {position: bit for bit, position in enumerate(i for i, c in enumerate(name) if c.isalpha())}
    return [
        "".join(c.upper() if i in bit_of and n >> bit_of[i] & 1 else c for i, c in enumerate(name))
        for n in range(count)
    ]


def _tools_body(tools: list[dict[str, Any]]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 2, "result": {"tools": tools}}).encode()


HOSTILE_TOOL_LISTS: dict[str, bytes] = {
    # NUL and a lone surrogate in every field a probe keeps
    "nul-tools": _tools_body(
        [{"name": "get_products\u0000", "title": "T\u0000\ud800", "description": "d\u0000" * 10_000}]
    ),
    "deep-json": DEEP_JSON,
    "many-tools": _tools_body([{"name": "t"}] * MANY_TOOLS),
    "1500-tools": _tools_body([{"name": "get_products"}] + [{"name": f"tool_{i}"} for i in range(1499)]),
    "case-variants": _tools_body([{"name": v} for v in case_variants("list_authorized_properties", CASE_VARIANTS)]),
}


async def _initialize_or(
    request: web.Request, answer: Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    message = await request.json()
    if "id" not in message:
        return web.Response(status=202)
    if message["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "hostile"}}
        return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})
    return await answer(message)


async def _hostile_tool_list(request: web.Request) -> web.StreamResponse:
    async def answer(message: dict[str, Any]) -> web.StreamResponse:
        return web.Response(body=HOSTILE_TOOL_LISTS[request.match_info["kind"]], content_type="application/json")

    return await _initialize_or(request, answer)


async def _nul_error(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    error = {"code": -32000, "message": "bad\u0000 things \ud800 happened"}
    return web.Response(
        body=json.dumps({"jsonrpc": "2.0", "id": body.get("id"), "error": error}).encode(),
        content_type="application/json",
    )


async def _sse(request: web.Request, *parts: bytes, pause: float = 0.0, hold: bool = False) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for part in parts:
        await response.write(part)
        if pause:
            await asyncio.sleep(pause)
    if hold:
        await asyncio.sleep(3600)
    return response


async def _deep_sse(request: web.Request) -> web.StreamResponse:
    async def answer(message: dict[str, Any]) -> web.StreamResponse:
        return await _sse(request, b"event: message\ndata: " + DEEP_JSON + b"\n\n")

    return await _initialize_or(request, answer)


async def _newlines(request: web.Request) -> web.StreamResponse:
    """256 KiB of newlines in one write, then silence: parsing must not hold the event loop."""

    async def answer(message: dict[str, Any]) -> web.StreamResponse:
        return await _sse(request, b"\n" * (256 * 1024), hold=True)

    return await _initialize_or(request, answer)


SPLIT_DESCRIPTION = "prix en € par impression"


async def _split_utf8(request: web.Request) -> web.StreamResponse:
    """The reply's "€" (three bytes in UTF-8) split across two writes."""

    async def answer(message: dict[str, Any]) -> web.StreamResponse:
        tools = [{"name": "get_products", "description": SPLIT_DESCRIPTION}]
        reply = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": tools}}, ensure_ascii=False)
        data = b"event: message\ndata: " + reply.encode() + b"\n\n"
        cut = data.index("€".encode()) + 1
        return await _sse(request, data[:cut], data[cut:], pause=0.05)

    return await _initialize_or(request, answer)


def hostile_app() -> web.Application:
    app = web.Application()
    for path, handler in {
        "/never": _never,
        "/drip": _drip,
        "/huge": _huge,
        "/huge-announced": _huge_announced,
        "/invalid-json": _invalid_json,
        "/sse-garbage": _sse_garbage,
        "/status/{code}": _status,
        "/redirect": _redirect,
        "/jsonrpc-error": _jsonrpc_error,
        "/not-an-agent": _not_an_agent,
        "/whoami": _whoami,
        "/counted": _counted,
        "/timed/mcp": _timed,
        "/strict/mcp": _strict,
        "/slow/{index}/mcp": _slow_sales,
        "/sse-open": _sse_kept_open,
        "/tools/{kind}/mcp": _hostile_tool_list,
        "/nul-error": _nul_error,
        "/deep-sse": _deep_sse,
        "/newlines": _newlines,
        "/split-utf8": _split_utf8,
    }.items():
        app.router.add_route("*", path, handler)
    for path in ("/never", "/drip", "/huge"):
        app.router.add_route(
            "*", path + "/.well-known/agent-card.json", {"/never": _never, "/drip": _drip, "/huge": _huge}[path]
        )
    return app


class AiohttpServerThread:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self) -> AiohttpServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # a started site has its server

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _stop(self) -> None:
        await self.runner.cleanup()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
