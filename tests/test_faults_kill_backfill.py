"""kill -9 a real backfill run at several points: only whole flips remain, a re-run converges."""

import signal
import subprocess
import time

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import TypeReclassification
from members.models import MemberAgent, MemberProfile
from registry.models import Agent, CapabilitySnapshot
from tests.processes import manage_py

FLIPS = 8000


def _populate() -> None:
    profile = MemberProfile.objects.create(slug="bulk", display_name="Bulk")
    agents = Agent.objects.bulk_create(Agent(url=f"https://a{i}.example.com/mcp", type="buying") for i in range(FLIPS))
    now = timezone.now()
    CapabilitySnapshot.objects.bulk_create(
        CapabilitySnapshot(agent=a, inferred_type="sales", tool_names=["get_products"], probed_at=now) for a in agents
    )
    MemberAgent.objects.bulk_create_resolved(
        [MemberAgent(profile=profile, agent=a, declared_type="buying") for a in agents]
    )


def _backfill() -> subprocess.Popen[bytes]:
    return manage_py("backfill_member_agent_types", "--no-input", "--force")


def _invariants() -> int:
    flipped = set(Agent.objects.filter(type="sales").values_list("url", flat=True))
    audited = list(TypeReclassification.objects.filter(source="backfill_script").values_list("agent_url", flat=True))
    assert len(audited) == len(set(audited)), "an agent has two audit rows"
    assert flipped == set(audited), "a flip without its audit row, or an audit row without its flip"
    return len(flipped)


def _kill_when_written(run: subprocess.Popen[bytes], flips: int) -> None:
    """SIGKILL the run once at least ``flips`` audit rows have committed (0: while it plans)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        if TypeReclassification.objects.filter(source="backfill_script").count() >= flips:
            break
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)


@pytest.mark.parametrize("kill_at", [0, 1, FLIPS // 2, FLIPS - 1000])
def test_a_killed_backfill_leaves_whole_flips_and_a_rerun_converges(transactional_db: None, kill_at: int) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the killed process needs a database it can share: PostgreSQL")
    _populate()
    run = _backfill()
    _kill_when_written(run, kill_at)
    done_before_rerun = _invariants()
    # Kills land between whole chunks of 500: never a partial one.
    assert done_before_rerun % 500 == 0

    rerun = _backfill()
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()
    assert _invariants() == FLIPS
    assert not Agent.objects.filter(type="buying").exists()
    print(f"killed at >= {kill_at}: {done_before_rerun} of {FLIPS} flips were written")
