"""Crawl benchmark through real RQ workers: 10,000 agents, several worker processes.

    .venv/bin/python -m bench.crawl_workers [--agents 10000] [--workers 3] [--latency 0.1] [--chunk 1000]

Serves the agents from a separate process on 127.0.0.1 (which counts the
tools/list calls each agent receives), enqueues one crawl on Redis db 14, runs
--workers `manage.py rqworker crawl --burst` processes, and reports throughput
and whether any agent was probed twice or missed. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter

from bench._db import ROOT, fresh_database
from bench._servers import serve_forever

REDIS_URL = "redis://127.0.0.1:6379/14"


def serve_counting_agents(port_queue: multiprocessing.Queue[int], latency: float) -> None:
    from aiohttp import web

    calls: Counter[int] = Counter()

    async def agent(request: web.Request) -> web.StreamResponse:
        message = json.loads(await request.read())
        if "id" not in message:
            return web.Response(status=202)
        await asyncio.sleep(latency)
        if message["method"] == "server/discover":  # MCP 2026-07-28, as the official SDK 2.3 serves
            result: dict[str, object] = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        elif message["method"] == "tools/list":
            calls[int(request.match_info["index"])] += 1
            result = {"tools": [{"name": "get_products"}]}
        else:
            return web.json_response(
                {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "Method not found"}}
            )
        return web.json_response({"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response({str(k): v for k, v in calls.items()})

    app = web.Application()
    app.router.add_post("/a/{index}/mcp", agent)
    app.router.add_get("/stats", stats)
    serve_forever(app, port_queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    with fresh_database(redis=True):
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.test import override_settings

    from crawler import jobs
    from registry.models import Agent

    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(target=serve_counting_agents, args=(ports, args.latency), daemon=True)
    server.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        port = ports.get(timeout=30)
        Agent.objects.bulk_create(Agent(url=f"http://127.0.0.1:{port}/a/{i}/mcp") for i in range(args.agents))
        queues = {"crawl": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}, "default": {"URL": REDIS_URL}}
        with override_settings(REDIS_URL=REDIS_URL, RQ_QUEUES=queues, AGENT_CRAWL_CHUNK_SIZE=args.chunk):
            jobs.redis_connection().flushdb()
            began = time.monotonic()
            start = jobs.start_crawl()
        env = {
            **os.environ,
            "REDIS_URL": REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "LOG_LEVEL": "WARNING",
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "crawl", "--burst"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        for worker in workers:
            worker.wait(timeout=900)
        elapsed = time.monotonic() - began
        calls = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10).read())
        probed_twice = sum(1 for n in calls.values() if n > 1)
        missed = args.agents - len(calls)
        promoted = Agent.objects.filter(type="sales").count()
        print(
            f"crawl through RQ: {args.agents} agents, {start.chunks} chunks of {args.chunk}, {args.workers} workers, "
            f"{args.latency * 1000:.0f} ms per request"
        )
        print(f"  elapsed {elapsed:.1f} s (enqueue to last worker done), {args.agents / elapsed:.0f} probes/s")
        print(f"  agents probed twice: {probed_twice}; missed: {missed}; promoted in the database: {promoted}")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        server.terminate()
        server.join(timeout=5)


if __name__ == "__main__":
    main()
