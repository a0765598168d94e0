"""Load benchmark: the public API and page under concurrent clients, on 100,000 agents.

    .venv/bin/python -m bench.api_load [--agents 100000] [--clients 50] [--seconds 30] [--workers 3] [--uncached]

Serves the registry with gunicorn as config/gunicorn.py sets it up, on 127.0.0.1
(production settings, a fresh PostgreSQL database of its own), then a separate client
process keeps --clients requests in flight for --seconds (random pages of
/api/registry/agents, type-filtered pages, and /registry/) and stops by itself.
Reports throughput, p50/p95/p99 latency and the error rate per endpoint.

``--uncached``: every request is one the public cache has not seen (a new ``?q=``
search, a new combination of filters, a page of the change feed), and one more
client, a member, reads its own profile (``GET /api/me/member-profile``, 100 agents)
all along on the members' listener, to show it is not held behind the public traffic.
Then the change feed's 100,000 events are paged through, 1,000 at a time, by one reader.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict

from bench._db import ROOT, fresh_database
from bench._servers import wait_for_port
from bench.backfill import populate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


WORDS = ["agent", "member", "example", "mcp", "sales", "signals", "creative", "com", "https"]


def uncached_url(base: str, rng: random.Random, agents: int) -> tuple[str, str]:
    """A request no earlier one made: a fresh search, a fresh combination of filters, or a feed page."""
    kind = rng.choice(["search", "search", "filters", "feed"])
    if kind == "search":
        term = rng.choice([str(rng.randrange(agents)), f"member {rng.randrange(agents // 100)}", rng.choice(WORDS)])
        return kind, f"{base}/api/registry/agents?q={term.replace(' ', '+')}&page_size={rng.randint(10, 60)}"
    if kind == "filters":
        query = {
            "type": rng.choice(["sales", "creative", "signals", "buying"]),
            "member": f"member-{rng.randrange(agents // 100)}",
            "host_verified": rng.choice(["true", "false"]),
            "page_size": str(rng.randint(10, 60)),
        }
        chosen = rng.sample(sorted(query), rng.randint(1, len(query)))
        return kind, f"{base}/api/registry/agents?" + "&".join(f"{k}={query[k]}" for k in chosen)
    return kind, f"{base}/api/registry/feed?after={rng.randrange(agents)}&limit={rng.randint(50, 500)}"


def load(
    base: str,
    clients: int,
    seconds: float,
    pages: int,
    results: multiprocessing.Queue[object],
    uncached: bool = False,
    agents: int = 0,
    token: str = "",
    members_base: str = "",
) -> None:
    import aiohttp

    async def main() -> dict[str, list[tuple[float, bool]]]:
        samples: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        stop = time.monotonic() + seconds
        # One connection per client, and one for the member.
        connector = aiohttp.TCPConnector(limit=clients + 1)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:

            async def timed(kind: str, url: str, headers: dict[str, str] | None = None) -> bytes | None:
                """Ask, note how long it took and whether it answered 200; the body when it did."""
                began = time.monotonic()
                body: bytes | None = None
                try:
                    async with session.get(url, headers=headers) as response:
                        read = await response.read()
                        body = read if response.status == 200 else None
                except (TimeoutError, aiohttp.ClientError):
                    pass
                samples[kind].append((time.monotonic() - began, body is not None))
                return body

            async def client() -> None:
                # Each client reads like a consumer would: walks the API by its
                # next links, starts over with a type filter, views pages.
                rng = random.Random()
                next_url = ""
                while time.monotonic() < stop:
                    kind = rng.choice(["api", "api", "api?type", "page"])
                    if uncached:
                        kind, url = uncached_url(base, rng, agents)
                    elif kind == "api":
                        url = next_url or base + "/api/registry/agents"
                    elif kind == "api?type":
                        url = f"{base}/api/registry/agents?type={rng.choice(['sales', 'creative', 'signals'])}"
                    else:
                        url = f"{base}/registry/?page={rng.randint(1, pages)}"
                    body = await timed(kind, url)
                    if kind == "api" and body is not None:
                        next_url = json.loads(body)["next"] or ""

            async def member() -> None:
                # A member reading its own profile while the public traffic runs.
                while time.monotonic() < stop:
                    await timed(
                        "member GET", members_base + "/api/me/member-profile", {"Authorization": f"Token {token}"}
                    )
                    await asyncio.sleep(0.2)

            await asyncio.gather(*(client() for _ in range(clients)), *([member()] if token else []))
        return dict(samples)

    results.put(asyncio.run(main()))


def member_token() -> str:
    """A member who owns the first profile (100 agents), signed in by token."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from members.models import MemberProfile

    owner = User.objects.create_user("bench-member")
    MemberProfile.objects.get(slug="member-0").owners.add(owner)
    return str(Token.objects.create(user=owner).key)


def feed_events(count: int) -> None:
    """As many events in the change feed as agents: one registration each."""
    from audit.models import Notice, NoticeKind

    Notice.objects.bulk_create(
        (
            Notice(
                kind=NoticeKind.REGISTERED,
                agent_url=f"https://agent-{i}.example.com/mcp",
                member=f"member-{i % max(1, count // 100)}",
                payload={"declared_type": "sales", "protocol": "mcp"},
                listed=True,
                dispatched_at=None,
            )
            for i in range(count)
        ),
        batch_size=10_000,
    )


def page_through_feed(base: str) -> list[float]:
    """One reader following the feed from its start, 1,000 events a page: seconds per page."""
    import urllib.request

    timings: list[float] = []
    url = f"{base}/api/registry/feed?limit=1000"
    while True:
        began = time.monotonic()
        with urllib.request.urlopen(url, timeout=30) as response:
            page = json.load(response)
        timings.append(time.monotonic() - began)
        if not page["results"]:
            return timings[:-1] or timings
        url = page["next"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--uncached", action="store_true", help="every request one the cache has not seen (see above)")
    args = parser.parse_args()
    with fresh_database():
        run(args)


def run(args: argparse.Namespace) -> None:
    began = time.monotonic()
    populate(args.agents, stale_every=100)
    from django.db import connection

    token = member_token() if args.uncached else ""
    if args.uncached:
        feed_events(args.agents)
    with connection.cursor() as cursor:
        # As autovacuum leaves a table in production: statistics and the visibility map set.
        cursor.execute("VACUUM ANALYZE")
    print(
        f"api load: {args.agents} agents (setup {time.monotonic() - began:.1f} s), {args.clients} clients for "
        f"{args.seconds:g} s, gunicorn with {args.workers} workers"
    )

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_CACHE_SECONDS": os.environ.get("BENCH_PUBLIC_CACHE_SECONDS", "10"),
    }
    members_port = free_port()
    env["WEB_BIND"], env["MEMBERS_BIND"] = f"127.0.0.1:{port}", f"127.0.0.1:{members_port}"
    env["WEB_CONCURRENCY"] = str(args.workers)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_port(port)
        wait_for_port(members_port)
        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue[object] = context.Queue()
        client = context.Process(
            target=load,
            args=(
                f"http://127.0.0.1:{port}",
                args.clients,
                args.seconds,
                50,
                results,
                args.uncached,
                args.agents,
                token,
                f"http://127.0.0.1:{members_port}",
            ),
        )
        client.start()
        samples: dict[str, list[tuple[float, bool]]] = results.get(timeout=args.seconds + 60)  # type: ignore[assignment]  # what load() puts on the queue
        client.join(timeout=10)
        pages = page_through_feed(f"http://127.0.0.1:{port}") if args.uncached else []
    finally:
        server.terminate()
        server.wait(timeout=10)

    if pages:
        print(
            f"  feed: {len(pages)} pages of up to 1,000 events, median {1000 * statistics.median(pages):.1f} ms, "
            f"p95 {1000 * percentile(pages, 0.95):.1f} ms, max {1000 * max(pages):.1f} ms per page"
        )
    total = sum(len(v) for v in samples.values())
    print(f"  {total} requests, {total / args.seconds:.0f} requests/s")
    for kind, values in samples.items():
        latencies = [v for v, _ in values]
        errors = sum(1 for _, ok in values if not ok)
        if not latencies:
            continue
        print(
            f"  {kind:9} {len(values):6} requests  p50 {1000 * statistics.median(latencies):6.1f} ms  "
            f"p95 {1000 * percentile(latencies, 0.95):6.1f} ms  p99 {1000 * percentile(latencies, 0.99):6.1f} ms  "
            f"errors {errors} ({100 * errors / len(values):.2f}%)"
        )


if __name__ == "__main__":
    main()
