"""Real agents on 127.0.0.1, built with the official ``mcp`` and ``a2a-sdk`` servers.

Used by ``manage.py serve_demo_agents`` (the demo fleet the seeded registry
points at) and by the test suite. These packages are development dependencies
(requirements-dev.txt): the registry itself never imports this module.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from members.demo import DEMO_BEARER_TOKEN

# tool names per demo agent path (see members.demo)
DEMO_MCP_AGENTS: dict[str, list[str]] = {
    "bidcliq": ["get_products", "create_media_buy", "list_authorized_properties", "get_media_buy_delivery"],
    "swivel": ["get_products", "create_media_buy", "update_media_buy"],
    "northwind": ["get_products", "create_media_buy"],
    "canvas": ["list_creative_formats", "build_creative", "preview_creative"],
    "audiencelab": ["get_signals", "activate_signal"],
    "orbit": ["ping"],
    "quiet": ["echo", "ping"],
}
DEMO_A2A_AGENTS: dict[str, list[str]] = {"meridian": ["get_products", "create_media_buy"]}
DEMO_MODERN_ONLY_AGENTS: dict[str, list[str]] = {"lumen": ["get_products", "create_media_buy"]}
DEMO_SSE_AGENTS: dict[str, list[str]] = {"relay": ["get_signals", "activate_signal"]}
# Served at the fleet's own /mcp, for the agent registered at the bare origin.
DEMO_ORIGIN_AGENT: list[str] = ["build_creative", "preview_creative"]
# AdCP 3 agents: (supported_protocols, tools without a 2025 name)
DEMO_ADCP3_AGENTS: dict[str, tuple[list[str], list[str]]] = {
    "civic": (["governance"], ["sync_plans", "report_plan_outcome"]),
    "marque": (["brand"], ["get_brand_identity", "verify_brand_claims"]),
    "gauge": (["measurement"], ["get_measurement_report"]),
}
DEMO_SILENT_AGENTS: tuple[str, ...] = ("silent",)
# Behind a bearer token (members.demo.DEMO_BEARER_TOKEN), which the demo owner saved.
DEMO_BEARER_AGENTS: dict[str, list[str]] = {"vault": ["get_products", "create_media_buy"]}


def _tool_function(name: str) -> Callable[..., str]:
    def tool(brief: str = "") -> str:
        return f"{name} is a demo tool"

    tool.__name__ = name
    tool.__doc__ = f"Demo implementation of {name}."
    return tool


def mcp_server(name: str, tool_names: Sequence[str]) -> Any:
    """An MCPServer (the official high-level server) exposing the named tools."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name)
    for tool_name in tool_names:
        server.add_tool(_tool_function(tool_name), name=tool_name)
    return server


def adcp3_mcp_server(name: str, supported_protocols: Sequence[str], tool_names: Sequence[str]) -> Any:
    """An AdCP 3 agent: its tools carry no 2025 name; get_adcp_capabilities declares what it is."""
    server = mcp_server(name, tool_names)

    def get_adcp_capabilities() -> dict[str, Any]:
        """What this agent supports (AdCP 3)."""
        return {"adcp": {"major_versions": [3]}, "supported_protocols": list(supported_protocols)}

    server.add_tool(get_adcp_capabilities, name="get_adcp_capabilities")
    return server


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


def mcp_routes(server: Any, path: str, *, json_response: bool = False, stateless: bool = False) -> Starlette:
    return server.streamable_http_app(streamable_http_path=path, json_response=json_response, stateless_http=stateless)


def sse_routes(server: Any, prefix: str) -> Starlette:
    """The legacy HTTP+SSE transport (2024-11-05): GET ``<prefix>/sse``, POST to the endpoint it names."""
    return server.sse_app(sse_path=f"{prefix}/sse", message_path=f"{prefix}/messages/")


async def buffered_body(receive: Any) -> tuple[bytes, Any]:
    """Read a request's whole body, and a ``receive`` that hands it on to the wrapped app."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Any:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


class ModernOnly:
    """ASGI wrapper for a server that speaks only MCP 2026-07-28: it answers ``initialize``
    with -32022 naming its versions, as the official SDK's modern-only servers do."""

    def __init__(self, app: Any, paths: Sequence[str]) -> None:
        self.app = app
        self.paths = set(paths)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        body, replay = await buffered_body(receive)
        try:
            method = json.loads(body).get("method")
        except (ValueError, AttributeError):
            method = None
        if method == "initialize":
            error = {"code": -32022, "message": "Unsupported protocol version", "data": {"supported": ["2026-07-28"]}}
            reply = {"jsonrpc": "2.0", "id": json.loads(body).get("id"), "error": error}
            await JSONResponse(reply, status_code=400)(scope, receive, send)
            return
        await self.app(scope, replay, send)


def a2a_card_routes(name: str, skill_ids: Sequence[str], *, card_url: str) -> list[BaseRoute]:
    from a2a.server.routes.agent_card_routes import create_agent_card_routes
    from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentSkill

    card = AgentCard(
        name=name,
        description=f"{name} demo agent",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url="http://127.0.0.1/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id=s, name=s.replace("_", " "), description=s, tags=["adcp"]) for s in skill_ids],
    )
    return [*create_agent_card_routes(card, card_url=card_url)]


async def _never_answer(request: Request) -> Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def combine(apps: Sequence[Starlette], extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """One Starlette app serving every sub-app's routes, running all their lifespans."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for sub in apps:
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            yield

    routes: list[BaseRoute] = [route for sub in apps for route in sub.routes]
    return Starlette(routes=[*routes, *extra_routes], lifespan=lifespan)


class RequireBearer:
    """ASGI wrapper: these paths answer 401 without ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, paths: Sequence[str], token: str) -> None:
        self.app, self.paths, self.expected = app, set(paths), f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            if dict(scope["headers"]).get(b"authorization") != self.expected:
                response = JSONResponse({"error": "invalid_token"}, status_code=401)
                response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def demo_fleet_app() -> Any:
    apps = [mcp_routes(mcp_server(n, tools), f"/{n}/mcp") for n, tools in DEMO_MCP_AGENTS.items()]
    apps += [mcp_routes(mcp_server(n, tools), f"/{n}/mcp") for n, tools in DEMO_MODERN_ONLY_AGENTS.items()]
    apps += [sse_routes(mcp_server(n, tools), f"/{n}") for n, tools in DEMO_SSE_AGENTS.items()]
    apps.append(mcp_routes(mcp_server("harbor", DEMO_ORIGIN_AGENT), "/mcp"))
    apps += [mcp_routes(mcp_server(n, tools), f"/{n}/mcp") for n, tools in DEMO_BEARER_AGENTS.items()]
    apps += [
        mcp_routes(adcp3_mcp_server(n, protocols, tools), f"/{n}/mcp")
        for n, (protocols, tools) in DEMO_ADCP3_AGENTS.items()
    ]
    extra: list[BaseRoute] = []
    for name, skills in DEMO_A2A_AGENTS.items():
        extra += a2a_card_routes(name, skills, card_url=f"/{name}/.well-known/agent-card.json")
    for name in DEMO_SILENT_AGENTS:
        extra.append(Route(f"/{name}/mcp", _never_answer, methods=["GET", "POST"]))
    fleet = ModernOnly(combine(apps, extra), [f"/{n}/mcp" for n in DEMO_MODERN_ONLY_AGENTS])
    return RequireBearer(fleet, [f"/{n}/mcp" for n in DEMO_BEARER_AGENTS], DEMO_BEARER_TOKEN)


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
