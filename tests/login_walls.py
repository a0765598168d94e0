"""Agents behind a login on 127.0.0.1, for the credential tests.

* bearer: the official ``mcp`` server's bearer-auth middleware (its 401 carries
  RFC 9728 ``resource_metadata``), accepting one static token;
* oauth: the same middleware, accepting tokens issued by a small authorization
  server of our own (RFC 8414 metadata, a client-credentials token endpoint,
  tokens that expire);
* header: an agent that wants ``X-Api-Key``;
* leaky: an agent that redirects to another origin, where what arrives is recorded;
* echo: an agent (MCP 2026-07-28, by hand) that repeats the X-Api-Key it is sent,
  with whitespace and a NUL put inside it: in a 403 when the key is wrong, in a
  tool's description when it is right;
* attacks on the client secret and on tokens, an origin of their own: an agent
  whose metadata sends the token request off-site (``offsite``), one whose
  authorization server names another issuer (``impostor``), a token endpoint
  that redirects (``redirecting_token_url``), and an agent of an attacker's that
  records every Authorization header it is sent (``attacker``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from demo.fleet import _tool_function, combine, mcp_routes, mcp_server
from tests.servers import SALES_TOOLS, ServerThread, closed_port

BEARER_TOKEN = "bearer-s3cret-7d1f0c"
HEADER_SECRET = "api-key-s3cret-52b9e1"
OAUTH_CLIENT_ID = "registry-crawler"
OAUTH_SECRET = "client-s3cret-a4e8f2"
TOKEN_LIFETIME = 60


@dataclass
class LoginWalls:
    bearer: str
    oauth: str
    header: str
    leaky: str
    echo: str
    token_url: str
    offsite: str
    impostor: str
    attacker: str
    redirecting_token_url: str
    tokens_issued: list[str] = field(default_factory=list)
    seen_elsewhere: list[dict[str, str]] = field(default_factory=list)
    # What arrived at the attacker's agent (Authorization headers) and at the
    # off-site token endpoint (form bodies).
    attacker_saw: list[str] = field(default_factory=list)
    secrets_received: list[str] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)

    def revoke_all(self) -> None:
        self.issued.clear()


class _StaticVerifier:
    async def verify_token(self, token: str) -> AccessToken | None:
        return AccessToken(token=token, client_id="owner", scopes=[]) if token == BEARER_TOKEN else None


class _IssuedVerifier:
    def __init__(self, issued: dict[str, float]) -> None:
        self.issued = issued

    async def verify_token(self, token: str) -> AccessToken | None:
        expires = self.issued.get(token)
        if expires is None or expires < time.time():
            return None
        return AccessToken(token=token, client_id=OAUTH_CLIENT_ID, scopes=[], expires_at=int(expires))


def _protected(name: str, base: str, path: str, verifier: Any) -> Starlette:
    server = MCPServer(
        name,
        auth=AuthSettings(
            issuer_url=AnyHttpUrl(f"{base}/as"),
            resource_server_url=AnyHttpUrl(f"{base}{path}"),
            validate_token_resource=False,
        ),
        token_verifier=verifier,
    )
    for tool in SALES_TOOLS:
        server.add_tool(_tool_function(tool), name=tool)
    return server.streamable_http_app(streamable_http_path=path, json_response=True)


def _authorization_server(base: str, issued: dict[str, float], walls: LoginWalls) -> list[Route]:
    counter = itertools.count(1)

    async def metadata(request: Request) -> Response:
        return JSONResponse({"issuer": f"{base}/as", "token_endpoint": f"{base}/as/token"})

    async def token(request: Request) -> Response:
        form = await request.form()
        if (form.get("client_id"), form.get("client_secret")) != (OAUTH_CLIENT_ID, OAUTH_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = f"access-{next(counter)}"
        issued[value] = time.time() + TOKEN_LIFETIME
        walls.tokens_issued.append(value)
        return JSONResponse({"access_token": value, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME})

    return [
        Route("/.well-known/oauth-authorization-server/as", metadata),
        Route("/as/token", token, methods=["POST"]),
    ]


class _RequireHeader:
    def __init__(self, app: Any, path: str) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            headers = dict(scope["headers"])
            if headers.get(b"x-api-key") != HEADER_SECRET.encode():
                await JSONResponse({"error": "an X-Api-Key is required"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _attacks(walls: LoginWalls, base: str, elsewhere: str) -> Starlette:
    """The attacker's origin; ``elsewhere`` is a third origin that records what reaches it."""

    def metadata_url(name: str) -> str:
        return f"{base}/.well-known/oauth-protected-resource/{name}/mcp"

    async def agent(request: Request) -> Response:
        name = request.path_params["name"]
        if "authorization" in request.headers:
            walls.attacker_saw.append(request.headers["authorization"])
        challenge = f'Bearer error="invalid_token", resource_metadata="{metadata_url(name)}"'
        return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge})

    async def resource(request: Request) -> Response:
        name = request.path_params["name"]
        server = f"{base}/as" if name == "offsite" else f"{elsewhere}/as"
        return JSONResponse({"resource": f"{base}/{name}/mcp", "authorization_servers": [server]})

    async def own_server(request: Request) -> Response:
        # Its own issuer, but the token endpoint is on a third origin.
        return JSONResponse({"issuer": f"{base}/as", "token_endpoint": f"{elsewhere}/token"})

    async def redirect_token(request: Request) -> Response:
        return RedirectResponse(f"{elsewhere}/token", status_code=307)

    return Starlette(
        routes=[
            Route("/{name}/mcp", agent, methods=["GET", "POST"]),
            Route("/.well-known/oauth-protected-resource/{name}/mcp", resource),
            Route("/.well-known/oauth-authorization-server/as", own_server),
            Route("/token", redirect_token, methods=["POST"]),
        ]
    )


@contextmanager
def login_walls() -> Iterator[LoginWalls]:
    ports = [closed_port() for _ in range(5)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    walls = LoginWalls(
        bearer=f"{bases[0]}/bearer/mcp",
        oauth=f"{bases[1]}/oauth/mcp",
        header=f"{bases[2]}/header/mcp",
        leaky=f"{bases[2]}/leaky/mcp",
        echo=f"{bases[2]}/echo/mcp",
        token_url=f"{bases[1]}/as/token",
        offsite=f"{bases[4]}/offsite/mcp",
        impostor=f"{bases[4]}/impostor/mcp",
        attacker=f"{bases[4]}/attacker/mcp",
        redirecting_token_url=f"{bases[4]}/token",
    )
    issued = walls.issued

    async def echo(request: Request) -> Response:
        key = request.headers.get("x-api-key", "")
        altered = key[:5] + "\n  \x00" + key[5:] if key else "(none)"
        if key != HEADER_SECRET:
            return Response(f"key {altered} is not valid here", status_code=403, media_type="text/plain")
        message = await request.json()
        if message.get("method") == "server/discover":
            result: dict[str, Any] = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        else:
            described = {"name": "get_products", "description": f"{'x' * 190} called with {altered}"}
            result = {"tools": [described, {"name": "create_media_buy"}]}
        return JSONResponse({"jsonrpc": "2.0", "id": message.get("id"), "result": result})

    async def leak(request: Request) -> Response:
        return RedirectResponse(f"{bases[3]}/elsewhere/mcp", status_code=307)

    async def elsewhere(request: Request) -> Response:
        walls.seen_elsewhere.append(dict(request.headers))
        return JSONResponse({"error": "nothing here"}, status_code=404)

    async def elsewhere_token(request: Request) -> Response:
        walls.secrets_received.append((await request.body()).decode())
        return JSONResponse({"access_token": "stolen", "token_type": "Bearer", "expires_in": 60})

    async def impostor_metadata(request: Request) -> Response:
        # Its token endpoint is on its own origin, but it claims to be another issuer.
        return JSONResponse({"issuer": "https://issuer.example/as", "token_endpoint": f"{bases[3]}/token"})

    oauth = _protected("oauth", bases[1], "/oauth/mcp", _IssuedVerifier(issued))
    oauth.router.routes.extend(_authorization_server(bases[1], issued, walls))
    apps: list[Any] = [
        _protected("bearer", bases[0], "/bearer/mcp", _StaticVerifier()),
        oauth,
        _RequireHeader(
            combine([mcp_routes(mcp_server("header", SALES_TOOLS), "/header/mcp", json_response=True)],
                    [Route("/leaky/mcp", leak, methods=["GET", "POST"]),
                     Route("/echo/mcp", echo, methods=["POST"])]),
            "/header/mcp",
        ),
        Starlette(routes=[
            Route("/elsewhere/mcp", elsewhere, methods=["GET", "POST"]),
            Route("/token", elsewhere_token, methods=["POST"]),
            Route("/.well-known/oauth-authorization-server/as", impostor_metadata),
        ]),
        _attacks(walls, bases[4], bases[3]),
    ]  # fmt: skip
    with ExitStack() as stack:
        for app, port in zip(apps, ports, strict=True):
            stack.enter_context(ServerThread(app, port=port))
        yield walls
