"""Member writes, the crawler, the backfill and reviewers on the same agents at once.

Every writer locks agent rows in primary-key order and records the change in the
same transaction, so the audit history of each agent must read as an unbroken
chain that ends at its current type: no lost update, no change without its row.
"""

import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest
from django.db import connection

from audit.models import Source, TypeReclassification
from crawler.policy import apply_probe_results
from members.backfill import apply_backfill, plan_backfill
from members.models import MemberAgent
from probe import ProbeResult
from registry.models import Agent
from registry.review import adopt_inferred, keep_published, review_plan
from tests.factories import make_agent, make_profile, make_snapshot, register

SECONDS = float(os.environ.get("FAULT_SECONDS", "6"))  # FAULT_SECONDS=60 for the full minute
AGENTS = 24
TOOLSETS = [["get_products"], ["build_creative"], ["get_signals"], ["ping"], None]


def _loop(
    name: str, body: Callable[[random.Random, dict[str, int]], None], errors: list[str], stats: dict[str, int]
) -> None:
    rng = random.Random(name)
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            body(rng, stats)
    except Exception as exc:  # reported by the test, with the thread's name
        errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
    finally:
        connection.close()


def member_writes(rng: random.Random, stats: dict[str, int]) -> None:
    member_agent = MemberAgent.objects.order_by("?")[0]
    member_agent.declared_type = rng.choice(["sales", "creative", "signals", "buying"])
    member_agent.save(actor="member")
    stats["member"] += 1


def crawls(rng: random.Random, stats: dict[str, int]) -> None:
    ids = rng.sample(list(Agent.objects.values_list("pk", flat=True)), 5)
    results = []
    for pk in ids:
        tools = rng.choice(TOOLSETS)
        results.append(
            (pk, ProbeResult("x", "mcp", tool_names=tools) if tools else ProbeResult("x", "mcp", error_kind="timeout"))
        )
    apply_probe_results(results)
    stats["crawl"] += 1


def backfills(rng: random.Random, stats: dict[str, int]) -> None:
    result = apply_backfill(plan_backfill(), actor="ops")
    stats["stale"] += len(result.stale)
    stats["backfill"] += 1


def reviews(rng: random.Random, stats: dict[str, int]) -> None:
    plan = review_plan(Agent.objects.values_list("pk", flat=True))
    if plan:
        chosen = rng.sample(plan, min(3, len(plan)))
        result = (adopt_inferred if rng.random() < 0.5 else keep_published)(chosen, actor="rita")
        stats["stale"] += len(result.stale)
    stats["review"] += 1


def test_concurrent_writers_lose_no_update(transactional_db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    profile = make_profile("busy")
    initial = {}
    for i in range(AGENTS):
        agent = make_agent(f"https://busy{i}.example.com/mcp")
        make_snapshot(agent, random.Random(i).choice(["sales", "creative", None]))
        register(profile, agent, "buying")
        initial[agent.url] = Agent.objects.get(pk=agent.pk).type
    first_row = TypeReclassification.objects.order_by("-id")[0].id

    errors: list[str] = []
    stats: dict[str, int] = defaultdict(int)
    threads = [
        threading.Thread(target=_loop, args=(name, body, errors, stats))
        for name, body in [("member", member_writes), ("crawl", crawls), ("backfill", backfills), ("review", reviews)]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    chains: dict[str, list[TypeReclassification]] = defaultdict(list)
    for row in TypeReclassification.objects.filter(id__gt=first_row).order_by("id"):
        if row.source != Source.CRAWLER_DISAGREEMENT and row.old_type != row.new_type:
            chains[row.agent_url].append(row)
    changes = 0
    for url, start in initial.items():
        current = start
        for row in chains[url]:
            assert row.old_type == current, f"{url}: {row.source} changed {row.old_type} but the type was {current}"
            current = row.new_type
            changes += 1
        assert Agent.objects.get(url=url).type == current, f"{url}: a change without its audit row"
    assert changes > 20 and all(stats[k] > 0 for k in ("member", "crawl", "backfill", "review")), dict(stats)
    print(f"{changes} audited type changes; {dict(stats)}")
