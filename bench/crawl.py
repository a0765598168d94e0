"""Crawl benchmark: N agents on 127.0.0.1 with a set latency, a share that never answers,
and a share of hostile agents.

    .venv/bin/python -m bench.crawl [--agents 2000] [--latency 0.1] [--silent 0.05] [--hostile 0.01]
                                    [--concurrency 100] [--deadline 10] [--upstream-agents 200]
                                    [--dialect both|handshake]

Hostile agents take turns at the attacks the test suite pins (tests/servers.py):
NUL in every kept field, JSON and SSE nested 100,000 deep, 215,000 tools, 50,000
case variants of one tool, 256 KiB of newlines then silence. Peak RSS is printed.

``--dialect both`` serves MCP 2026-07-28 and the handshake, as the official SDK 2.3
does; ``handshake`` serves only the handshake, as SDK 1.x and most deployed agents
do. Every request, notifications included, takes the latency, as a network round
trip would.

Reports probes per second, requests per probe, the limit for that concurrency and latency, our ratio
to it, and the same crawl under upstream's settings (5 at a time in batches,
10 s timeout) on --upstream-agents agents, for a side-by-side ratio. The agent
server runs in a separate process; everything targets 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import time
import urllib.request

from bench._db import fresh_database
from bench._servers import serve_forever

HOSTILE_KINDS = ("nul-tools", "deep-json", "deep-sse", "many-tools", "case-variants", "newlines")


def hostile_kind(index: int, silent_every: int, hostile_every: int) -> str | None:
    if not hostile_every or index % hostile_every != 1 or (silent_every and index % silent_every == 0):
        return None
    return HOSTILE_KINDS[(index // hostile_every) % len(HOSTILE_KINDS)]


def serve_agents(
    port_queue: multiprocessing.Queue[int], latency: float, silent_every: int, hostile_every: int, modern: bool
) -> None:
    from aiohttp import web

    from tests.servers import DEEP_JSON, HOSTILE_TOOL_LISTS

    async def hostile_reply(request: web.Request, kind: str) -> web.StreamResponse:
        if kind in HOSTILE_TOOL_LISTS:
            return web.Response(body=HOSTILE_TOOL_LISTS[kind], content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if kind == "deep-sse":
            await response.write(b"event: message\ndata: " + DEEP_JSON + b"\n\n")
            return response
        await response.write(b"\n" * (256 * 1024))
        await asyncio.sleep(3600)
        return response

    requests = {"count": 0}

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response({"requests": requests["count"]})

    async def agent(request: web.Request) -> web.StreamResponse:
        requests["count"] += 1
        index = int(request.match_info["index"])
        if silent_every and index % silent_every == 0:
            await asyncio.sleep(3600)
        message = json.loads(await request.read())
        await asyncio.sleep(latency)
        if "id" not in message:  # a notification: accepted, nothing to do
            return web.Response(status=202)
        kind = hostile_kind(index, silent_every, hostile_every)
        if kind is not None and message["method"] == "tools/list":
            return await hostile_reply(request, kind)
        if message["method"] == "server/discover":
            if not modern:  # as SDK 1.x answers a request it does not know
                error = {"code": -32601, "message": "Method not found"}
                return web.json_response({"jsonrpc": "2.0", "id": message["id"], "error": error})
            result: dict[str, object] = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        elif message["method"] == "initialize":
            result = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": f"a{index}"},
            }
        else:
            tools = ["get_products", "create_media_buy"] if index % 3 else ["get_signals"]
            result = {"tools": [{"name": t, "inputSchema": {"type": "object"}} for t in tools]}
        return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})

    app = web.Application()
    app.router.add_post("/a/{index}/mcp", agent)
    app.router.add_get("/stats", stats)
    serve_forever(app, port_queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per JSON-RPC request")
    parser.add_argument("--silent", type=float, default=0.05, help="share of agents that never answer")
    parser.add_argument("--hostile", type=float, default=0.0, help="share of agents whose replies attack the crawler")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--upstream-agents", type=int, default=200, help="0 to skip the upstream comparison")
    parser.add_argument(
        "--dialect", choices=("both", "handshake"), default="both", help="what the agents speak (see above)"
    )
    args = parser.parse_args()
    with fresh_database():
        run(args)


def run(args: argparse.Namespace) -> None:
    silent_every = round(1 / args.silent) if args.silent else 0
    hostile_every = round(1 / args.hostile) if args.hostile else 0
    from django.test import override_settings

    from crawler.jobs import start_crawl
    from probe import ProbeLimits, run_probes
    from registry.models import Agent

    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(
        target=serve_agents,
        args=(ports, args.latency, silent_every, hostile_every, args.dialect == "both"),
        daemon=True,
    )
    server.start()
    try:
        port = ports.get(timeout=30)
        Agent.objects.bulk_create(Agent(url=f"http://127.0.0.1:{port}/a/{i}/mcp") for i in range(args.agents))

        def requests_so_far() -> int:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
                return int(json.load(response)["requests"])

        with override_settings(AGENT_PROBE_CONCURRENCY=args.concurrency, AGENT_CRAWL_CHUNK_SIZE=args.agents):
            began = time.monotonic()
            crawl = start_crawl(sync=True, deadline=args.deadline)
            elapsed = time.monotonic() - began
        first_requests = requests_so_far()
        silent = sum(1 for i in range(args.agents) if silent_every and i % silent_every == 0)
        hostile = sum(1 for i in range(args.agents) if hostile_kind(i, silent_every, hostile_every))
        # An answering agent costs 2 sequential round trips in either dialect (discover
        # raced with initialize, then tools/list beside the notification); a silent one
        # cannot end before its deadline. On a first crawl nothing says which agents are
        # silent, so the last of them starts only once the agents ahead of it have had
        # their slots (a silent one holds its slot for slow_after); the next crawl
        # starts them first.
        limit = args.concurrency / (2 * args.latency)
        floor = max((args.agents - silent) / limit, args.deadline if silent else 2 * args.latency)
        reach = (args.agents - silent) / limit + silent * ProbeLimits().slow_after / args.concurrency
        first_floor = reach + args.deadline if silent else floor
        print(
            f"crawl: {args.agents} agents, {args.latency * 1000:.0f} ms per request, {silent} silent, "
            f"{hostile} hostile, concurrency {args.concurrency}, deadline {args.deadline:g} s, dialect {args.dialect}"
        )
        print(f"  {crawl.summary.line()}")
        print(f"  elapsed {elapsed:.2f} s including database writes; {args.agents / elapsed:.0f} probes/s")
        print(
            f"  limit: concurrency / (2 x latency) = {limit:.0f} probes/s for answering agents; floor for this "
            f"mix {first_floor:.2f} s (the last silent agent reached after {reach:.2f} s, then its deadline); "
            f"ratio floor / elapsed = {first_floor / elapsed:.2f}"
        )
        print(
            f"  requests per probe: {first_requests / args.agents:.2f} (server/discover and initialize together, "
            "then tools/list, beside notifications/initialized for a handshake)"
        )
        print(f"  database writes: {Agent.objects.filter(snapshot__isnull=False).count()} snapshots")
        print(
            f"  peak RSS of the crawling process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )

        # The same agents again, as the next hour's crawl of known agents would take
        # them: the ones that ran out their deadline last time start first.
        with override_settings(AGENT_PROBE_CONCURRENCY=args.concurrency, AGENT_CRAWL_CHUNK_SIZE=args.agents):
            began = time.monotonic()
            again = start_crawl(list(Agent.objects.values_list("pk", flat=True)), sync=True, deadline=args.deadline)
            elapsed = time.monotonic() - began
        next_requests = requests_so_far() - first_requests
        print(
            f"next crawl, silent agents known from the last one: {again.summary.probed} probed, "
            f"{elapsed:.2f} s; ratio floor / elapsed = {floor / elapsed:.2f}; requests per probe "
            f"{next_requests / args.agents:.2f} (the remembered route: tools/list alone when modern)"
        )

        if args.upstream_agents:
            targets = [(f"http://127.0.0.1:{port}/a/{i}/mcp", "mcp") for i in range(args.upstream_agents)]
            limits = ProbeLimits(
                deadline=10.0, concurrency=5, address_policy=ProbeLimits.from_settings().address_policy
            )
            ours = ProbeLimits(
                deadline=args.deadline, concurrency=args.concurrency, address_policy=limits.address_policy
            )
            began = time.monotonic()
            for i in range(0, len(targets), 5):
                run_probes(targets[i : i + 5], limits)
            upstream = time.monotonic() - began
            began = time.monotonic()
            run_probes(targets, ours)
            ours_elapsed = time.monotonic() - began
            print(
                f"upstream settings (5 at a time in batches, 10 s timeout) on {args.upstream_agents} agents: "
                f"{upstream:.2f} s ({args.upstream_agents / upstream:.1f} probes/s); ours on the same agents "
                f"{ours_elapsed:.2f} s ({args.upstream_agents / ours_elapsed:.1f} probes/s); "
                f"ratio {upstream / ours_elapsed:.1f}x"
            )
    finally:
        server.terminate()
        server.join(timeout=5)


if __name__ == "__main__":
    main()
