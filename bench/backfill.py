"""Backfill benchmark on PostgreSQL: 100,000 member agents, 1% stale.

    .venv/bin/python -m bench.backfill [--agents 100000] [--stale 0.01]

Reports the command's start-up time, the dry run and the real run (each as the
whole command, start-up included, and the planning/applying inside it), and the
floor: the single set-based ``UPDATE ... FROM`` a database expert would write for
the same flips (run in a transaction that is rolled back).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench._db import ROOT, fresh_database

FLOOR_SQL = """
UPDATE registry_agent AS a
   SET type = s.inferred_type, updated_at = now()
  FROM members_memberagent AS m
  JOIN registry_capabilitysnapshot AS s ON s.agent_id = m.agent_id
 WHERE a.id = m.agent_id
   AND s.probed_at IS NOT NULL
   AND s.inferred_type IN ('sales', 'creative', 'signals')
   AND a.type <> s.inferred_type
"""


def populate(agents: int, stale_every: int) -> None:
    from django.utils import timezone

    from members.models import MemberAgent, MemberProfile
    from registry.models import Agent, CapabilitySnapshot

    now = timezone.now()
    profiles = MemberProfile.objects.bulk_create(
        MemberProfile(slug=f"member-{i}", display_name=f"Member {i}") for i in range(max(1, agents // 100))
    )
    kinds = ["sales", "creative", "signals"]
    batch = 10_000
    for start in range(0, agents, batch):
        rows = range(start, min(agents, start + batch))
        # Stale rows: registered as buying before the probe saw a sales agent.
        created = Agent.objects.bulk_create(
            Agent(url=f"https://agent-{i}.example.com/mcp", type="buying" if i % stale_every == 0 else kinds[i % 3])
            for i in rows
        )
        CapabilitySnapshot.objects.bulk_create(
            CapabilitySnapshot(
                agent=a,
                inferred_type="sales" if i % stale_every == 0 else kinds[i % 3],
                tool_names=["get_products"],
                probed_at=now,
            )
            for i, a in zip(rows, created, strict=True)
        )
        MemberAgent.objects.bulk_create_resolved(
            [
                MemberAgent(profile=profiles[i % len(profiles)], agent=a, declared_type=a.type)
                for i, a in zip(rows, created, strict=True)
            ]
        )


def timed_command(*args: str) -> tuple[float, str]:
    began = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=os.environ, capture_output=True, text=True, check=True
    )
    return time.monotonic() - began, completed.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--stale", type=float, default=0.01)
    args = parser.parse_args()
    with fresh_database():
        run(args.agents, round(1 / args.stale))


def run(agents: int, stale_every: int) -> None:
    from django.db import connection, transaction

    from members.backfill import plan_backfill

    began = time.monotonic()
    populate(agents, stale_every)
    print(f"backfill: {agents} member agents, {agents // stale_every} stale (setup {time.monotonic() - began:.1f} s)")
    with connection.cursor() as cursor:
        # As autovacuum leaves a table in production: statistics and the visibility map set.
        cursor.execute("VACUUM ANALYZE")

    with transaction.atomic():
        began = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL)
            floor_rows = cursor.rowcount
        floor = time.monotonic() - began
        transaction.set_rollback(True)
    print(f"  floor: one UPDATE ... FROM, {floor_rows} rows: {floor:.3f} s")

    startup, _ = timed_command("backfill_member_agent_types", "--help")
    print(f"  command start-up (--help): {startup:.3f} s")

    began = time.monotonic()
    plan = plan_backfill()
    planning = time.monotonic() - began
    print(f"  planning in process: {len(plan.changes)} changes in {planning:.3f} s ({planning / floor:.1f}x the floor)")

    dry, summary = timed_command("backfill_member_agent_types", "--dry-run", "--format", "text")
    print(
        f"  dry run (whole command): {dry:.3f} s = start-up + {dry - startup:.3f} s "
        f"({(dry - startup) / floor:.1f}x the floor)\n    {summary}"
    )
    real, summary = timed_command("backfill_member_agent_types", "--no-input", "--force")
    print(
        f"  real run (whole command): {real:.3f} s = start-up + {real - startup:.3f} s "
        f"({(real - startup) / floor:.1f}x the floor)\n    {summary}"
    )


if __name__ == "__main__":
    main()
