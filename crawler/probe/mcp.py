"""MCP over Streamable HTTP: ``initialize``, then ``tools/list`` page by page."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from crawler.probe.http import HttpClient, check_status, parse_json
from crawler.probe.limits import ProbeFailure
from crawler.probe.sse import EventStreamTooLarge, SSEParser
from crawler.probe.tools import ToolList
from registry.types import ProbeErrorKind

MCP_PROTOCOL_VERSION = "2025-06-18"

# The parsers below take whatever JSON an agent sent and either return what the
# probe needs or raise ProbeFailure: nothing else, whatever the input.


def _is_reply_to(message: Any, request_id: int) -> bool:
    return isinstance(message, dict) and message.get("id") == request_id and ("result" in message or "error" in message)


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


async def probe_mcp(http: HttpClient, url: str, max_pages: int) -> ToolList:
    session = McpSession(http, url)
    await session.call(
        "initialize",
        {
            "protocolVersion": MCP_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "adcp-agent-registry-crawler", "version": "1.0"},
        },
    )
    await session.notify("notifications/initialized")
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


class McpSession:
    """One MCP conversation: JSON-RPC over POST, replies as JSON or SSE."""

    def __init__(self, http: HttpClient, url: str) -> None:
        self.http = http
        self.url = url
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
        response = await self.http.request("POST", self.url, body=body, headers=self._headers())
        async with response:
            check_status(response)

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
        response = await self.http.request("POST", self.url, body=body, headers=self._headers())
        async with response:
            check_status(response)
            self.session_id = response.headers.get("Mcp-Session-Id", self.session_id)
            if response.content_type == "text/event-stream":
                reply = await self._read_sse_reply(response, request_id, method)
            else:
                reply = find_reply(parse_json(await self.http.read_body(response), f"the {method} reply"), request_id)
        result = reply_result(reply, method)
        if method == "initialize" and isinstance(result.get("protocolVersion"), str):
            self.protocol_version = result["protocolVersion"][:32]
        return result

    async def _read_sse_reply(self, response: aiohttp.ClientResponse, request_id: int, method: str) -> dict[str, Any]:
        parser = SSEParser(max_event=self.http.budget.limit)
        # Stop at our reply: a server may keep the stream open for notifications.
        async for chunk in self.http.chunks(response):
            try:
                events = parser.feed(chunk)
            except EventStreamTooLarge as exc:
                raise ProbeFailure(ProbeErrorKind.TOO_LARGE, str(exc)) from None
            for event in events:
                if event.event != "message":
                    continue
                try:
                    message = parse_json(event.data, f"the {method} reply")
                except ProbeFailure as failure:
                    if failure.kind == ProbeErrorKind.PROTOCOL and "not valid JSON" in failure.message:
                        continue  # another message on the stream; ours may follow
                    raise
                if _is_reply_to(message, request_id):
                    return message
        raise ProbeFailure(ProbeErrorKind.PROTOCOL, "the event stream ended without a reply to the request")
