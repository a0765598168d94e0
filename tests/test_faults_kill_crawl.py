"""kill -9 a real crawl while it writes: no half-written snapshot, a re-run converges."""

import signal
import subprocess
import time

import pytest
from django.db import connection

from audit.models import TypeReclassification
from registry.models import Agent, CapabilitySnapshot
from tests.processes import manage_py

AGENTS = 1500


def _crawl() -> subprocess.Popen[bytes]:
    return manage_py("crawl_agents", "--sync", REDIS_URL="", AGENT_PROBE_CONCURRENCY="20")


def _invariants() -> int:
    promoted = set(Agent.objects.filter(type="sales").values_list("url", flat=True))
    rows = list(TypeReclassification.objects.filter(source="crawler_promote").values_list("agent_url", flat=True))
    assert len(rows) == len(set(rows)), "an agent was promoted twice"
    assert promoted == set(rows), "a promotion without its audit row, or the reverse"
    snapshots = CapabilitySnapshot.objects.all()
    assert all(
        (s.inferred_type, s.tool_names, s.inferred_from) == ("sales", ["get_products"], ["get_products"])
        and s.probed_at
        for s in snapshots
    ), "a half-written snapshot"
    assert set(snapshots.values_list("agent__url", flat=True)) == promoted
    return len(promoted)


@pytest.mark.parametrize("kill_at", [1, AGENTS // 2])
def test_a_killed_crawl_leaves_whole_results_and_a_rerun_converges(
    transactional_db: None, hostile: str, kill_at: int
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the killed process needs a database it can share: PostgreSQL")
    Agent.objects.bulk_create(Agent(url=f"{hostile}/slow/{i}/mcp") for i in range(AGENTS))
    run = _crawl()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None and CapabilitySnapshot.objects.count() < kill_at:
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    written = _invariants()
    assert written < AGENTS, "the crawl finished before it could be killed"

    rerun = _crawl()
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert _invariants() == AGENTS
    print(f"killed at >= {kill_at}: {written} of {AGENTS} agents were written")
