"""The demo fleet: real agents on 127.0.0.1, built with the official ``mcp`` and ``a2a-sdk`` servers.

Served by ``manage.py serve_demo_agents`` from the one table in ``demo.agents``;
the test suite builds its own agents from the same parts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from demo.agents import DEMO_AGENTS, DEMO_BEARER_TOKEN, Dialect, of_dialect
from probe.proof import MAX_BODY, WELL_KNOWN_PATH


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


def _loopback_guard() -> Any:
    """The SDK's DNS-rebinding guard as it sets it for 127.0.0.1, with the demo's own hosts
    (agents.<verified domain>, which resolve to loopback) let in too."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [
        "127.0.0.1",
        "localhost",
        "[::1]",
        *(f"agents.{a.verified_domain}" for a in DEMO_AGENTS if a.verified_domain),
    ]
    return TransportSecuritySettings(
        allowed_hosts=[f"{host}:*" for host in hosts], allowed_origins=[f"http://{host}:*" for host in hosts]
    )


def mcp_routes(server: Any, path: str, *, json_response: bool = False, stateless: bool = False) -> Starlette:
    return server.streamable_http_app(
        streamable_http_path=path,
        json_response=json_response,
        stateless_http=stateless,
        transport_security=_loopback_guard(),
    )


def sse_routes(server: Any, prefix: str) -> Starlette:
    """The legacy HTTP+SSE transport (2024-11-05): GET ``<prefix>/sse``, POST to the endpoint it names."""
    return server.sse_app(
        sse_path=f"{prefix}/sse", message_path=f"{prefix}/messages/", transport_security=_loopback_guard()
    )


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


def a2a_card_routes(
    name: str, skill_ids: Sequence[str], *, card_url: str, adcp_protocols: Sequence[str] = ()
) -> list[BaseRoute]:
    """An agent card; with ``adcp_protocols``, the AdCP extension declaring them."""
    from a2a.server.routes.agent_card_routes import create_agent_card_routes
    from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentExtension, AgentInterface, AgentSkill

    params = {"supported_protocols": list(adcp_protocols), "adcp": {"major_versions": [3]}}
    extensions = (
        [AgentExtension(uri="https://adcontextprotocol.org/extensions/adcp", description="AdCP", params=params)]
        if adcp_protocols
        else []
    )
    card = AgentCard(
        name=name,
        description=f"{name} demo agent",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url="http://127.0.0.1/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=False, extensions=extensions),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id=s, name=s.replace("_", " "), description=s, tags=["adcp"]) for s in skill_ids],
    )
    return [*create_agent_card_routes(card, card_url=card_url)]


async def _never_answer(request: Request) -> Response:
    """Hold the request unanswered until the prober gives up and hangs up: nothing is left
    waiting when the fleet stops, so it stops without cancelling anything."""
    while not await request.is_disconnected():
        await asyncio.sleep(0.5)
    return Response(status_code=204)  # no one is listening any more


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


def _token_for(host: str) -> str | None:
    # Imported here: the benchmarks' agent servers import this module without Django set up.
    from django.db import connection

    from members.models import DomainClaim

    try:
        return DomainClaim.objects.filter(domain=host).values_list("token", flat=True).first()
    finally:
        connection.close()  # this worker thread's own connection; a proof is asked rarely


async def _proof_file(request: Request) -> Response:
    """The well-known file of a demo domain: the token its member's claim holds."""
    token = await sync_to_async(_token_for)((request.url.hostname or "").lower())
    if token is None:
        return PlainTextResponse("no such domain", status_code=404)
    return PlainTextResponse(token[:MAX_BODY])


def demo_fleet_app() -> Any:
    """Every agent of the demo table, served as its dialect says."""
    served = {
        Dialect.MCP: "/{}/mcp",
        Dialect.MODERN_ONLY: "/{}/mcp",
        Dialect.BEARER: "/{}/mcp",
        Dialect.ORIGIN: "/mcp",
    }
    apps = [
        mcp_routes(mcp_server(agent.name, agent.tools), path.format(agent.name))
        for dialect, path in served.items()
        for agent in of_dialect(dialect)
    ]
    apps += [sse_routes(mcp_server(a.name, a.tools), f"/{a.name}") for a in of_dialect(Dialect.SSE)]
    apps += [
        mcp_routes(adcp3_mcp_server(a.name, a.supported_protocols, a.tools), f"/{a.name}/mcp")
        for a in of_dialect(Dialect.ADCP3)
    ]
    extra: list[BaseRoute] = []
    for agent in of_dialect(Dialect.A2A):
        extra += a2a_card_routes(agent.name, agent.tools, card_url=f"/{agent.name}/.well-known/agent-card.json")
    for agent in of_dialect(Dialect.SILENT):
        extra.append(Route(f"/{agent.name}/mcp", _never_answer, methods=["GET", "POST"]))
    extra.append(Route(WELL_KNOWN_PATH, _proof_file, methods=["GET"]))
    fleet = ModernOnly(combine(apps, extra), [f"/{a.name}/mcp" for a in of_dialect(Dialect.MODERN_ONLY)])
    return RequireBearer(fleet, [f"/{a.name}/mcp" for a in of_dialect(Dialect.BEARER)], DEMO_BEARER_TOKEN)
