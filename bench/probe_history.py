"""Probe history benchmark: 30 days of hourly probes for 10,000 agents, then what it costs.

    .venv/bin/python -m bench.probe_history [--agents 10000] [--days 30] [--crawl 2000]

In a fresh PostgreSQL database of its own: writes --days days of hourly probe rows for
--agents agents (one INSERT ... SELECT, as a month of crawls would leave them), then
reports the table's size, the detail endpoint's queries and time for one agent, the
policy's write time for a crawl of --crawl agents with that history against the same
crawl with none, and the time to roll up and prune the day that passes 30 days.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from urllib.parse import quote

from bench._db import fresh_database


def populate(agents: int, days: int) -> None:
    from django.db import connection

    from members.models import MemberAgent, MemberProfile
    from registry.models import Agent, CapabilitySnapshot

    profile = MemberProfile.objects.create(slug="bench", display_name="Bench")
    created = Agent.objects.bulk_create(
        Agent(url=f"https://agent-{i}.example.com/mcp", type="sales") for i in range(agents)
    )
    CapabilitySnapshot.objects.bulk_create(CapabilitySnapshot(agent=a, inferred_type="sales") for a in created)
    MemberAgent.objects.bulk_create_resolved(
        [MemberAgent(profile=profile, agent=a, declared_type="sales") for a in created]
    )
    with connection.cursor() as cursor:
        # One row per agent and hour, one in twenty a timeout, latencies spread 50-450 ms.
        cursor.execute(
            """
            INSERT INTO crawler_proberecord
                (agent_id, probed_at, outcome, latency_ms, transport, protocol_version, tool_count)
            SELECT a.id, now() - make_interval(hours => h),
                   CASE WHEN (a.id + h) %% 20 = 0 THEN 'timeout' ELSE 'ok' END,
                   50 + (a.id * 7 + h * 13) %% 400, 'streamable_http', '2026-07-28', 2
              FROM registry_agent AS a CROSS JOIN generate_series(1, %s) AS h
            """,
            [24 * days],
        )
        cursor.execute("VACUUM ANALYZE crawler_proberecord")


def write_time(agent_ids: list[int], rounds: int = 3) -> float:
    """Median seconds for the policy to write one crawl's results, in batches of 500."""
    from crawler.policy import apply_probe_results
    from probe import ProbeResult
    from registry.models import Agent

    urls = dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "url"))
    timings = []
    for _ in range(rounds):
        began = time.monotonic()
        for start in range(0, len(agent_ids), 500):
            batch = agent_ids[start : start + 500]
            results = [(pk, ProbeResult(urls[pk], "mcp", tool_names=["get_products"], elapsed=0.1)) for pk in batch]
            apply_probe_results(results)
        timings.append(time.monotonic() - began)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--crawl", type=int, default=2000)
    args = parser.parse_args()
    with fresh_database():
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from crawler.liveness import prune
    from crawler.models import ProbeRecord
    from registry.models import Agent

    began = time.monotonic()
    populate(args.agents, args.days + 1)  # one day past the 30 kept, for the pruning
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('crawler_proberecord'))")
        size = cursor.fetchone()[0]
    rows = ProbeRecord.objects.count()
    print(
        f"probe history: {args.agents} agents, {args.days + 1} days hourly, {rows:,} rows, {size} with indexes "
        f"(setup {time.monotonic() - began:.1f} s)"
    )

    setup_test_environment()  # Django's test client, in process: its host allowed, nothing served
    client = Client()
    agent = Agent.objects.order_by("pk").first()
    assert agent is not None
    path = f"/api/registry/agents/{quote(agent.url, safe='')}"
    client.get(path)
    timings = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as queries:
            started = time.monotonic()
            assert client.get(path).status_code == 200
            timings.append(time.monotonic() - started)
    print(
        f"  detail endpoint: {len(queries)} queries, median {1000 * statistics.median(timings):.1f} ms, "
        f"max {1000 * max(timings):.1f} ms"
    )

    ids = list(Agent.objects.order_by("pk").values_list("pk", flat=True))
    crawled = ids[: args.crawl]
    with_history = write_time(crawled)
    ProbeRecord.objects.filter(agent_id__in=ids[args.crawl : 2 * args.crawl]).delete()
    without = write_time(ids[args.crawl : 2 * args.crawl])
    print(
        f"  policy writes for a crawl of {len(crawled)} agents: {with_history:.2f} s with {args.days} days of history, "
        f"{without:.2f} s with none ({100 * (with_history / without - 1):+.0f}%)"
    )

    started = time.monotonic()
    # The moment the oldest stored day passes the 30 days kept.
    raw, _ = prune(timezone.now() + timedelta(days=30 - args.days, hours=1))
    print(f"  roll up and prune the day past 30: {raw:,} raw rows deleted in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
