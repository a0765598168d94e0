import io
import uuid
from collections.abc import Iterable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django import DjangoAssertNumQueries

from audit.models import TypeEvent, TypeReclassification
from members.backfill import apply_backfill, plan_backfill
from registry.models import Agent
from registry.publish import apply_type_changes
from tests.backfill_fixtures import frozen, published, upstream_story
from tests.factories import feed_locks


def test_a_real_run_flips_the_two_agents_under_one_run_id(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", interactive=False, actor="ops@example")
    out = capsys.readouterr().out
    rows = TypeReclassification.objects.filter(source="backfill_script")
    assert sorted((r.member, r.old_type, r.new_type) for r in rows) == [
        ("bidcliq", "buying", "sales"),
        ("swivel", "buying", "sales"),
    ]
    [run_id] = {r.run_id for r in rows}
    assert {r.actor for r in rows} == {"ops@example"}
    assert (
        "WRITE: 4 profiles scanned, 2 with type changes, 2 agent rows flipped (2 corrections), 0 stale rows skipped, "
        f"audit run_id {run_id}." in out
    )
    assert published()["https://bidcliq.example.com/mcp"] == "sales"
    assert rows[0].notes["inferred_type"] == "sales"

    call_command("backfill_member_agent_types", interactive=False)
    assert "0 agent rows flipped" in capsys.readouterr().out
    assert TypeReclassification.objects.filter(source="backfill_script").count() == 2


def test_max_flips_refuses_and_writes_nothing(db: None) -> None:
    upstream_story()
    before = published()
    with pytest.raises(CommandError, match="more than --max-flips 1.*--force.*Nothing was written"):
        call_command("backfill_member_agent_types", interactive=False, max_flips=1)
    assert published() == before
    assert not TypeReclassification.objects.filter(source="backfill_script").exists()


def test_force_applies_a_large_plan(db: None) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", interactive=False, max_flips=1, force=True, stdout=io.StringIO())
    assert TypeReclassification.objects.filter(source="backfill_script").count() == 2


def test_without_a_terminal_it_refuses_to_ask(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream_story()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="without a terminal; pass --no-input"):
        call_command("backfill_member_agent_types", stdout=io.StringIO())
    assert not TypeReclassification.objects.filter(source="backfill_script").exists()


def test_on_a_terminal_it_asks_and_a_no_writes_nothing(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    upstream_story()

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    with pytest.raises(CommandError, match="cancelled; nothing was written"):
        call_command("backfill_member_agent_types", stdout=io.StringIO())
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    call_command("backfill_member_agent_types", stdout=io.StringIO())
    assert TypeReclassification.objects.filter(source="backfill_script").count() == 2


def test_a_row_changed_between_plan_and_apply_is_stale_and_left_alone(db: None) -> None:
    upstream_story()
    plan = plan_backfill()
    # A reviewer (or the crawler) sets swivel to creative after the preview.
    Agent.objects.filter(url="https://swivel.example.com/mcp").update(type="creative")
    result = apply_backfill(plan, actor="ops")
    assert [c.member for c in result.applied] == ["bidcliq"]
    assert [(c.member, found) for c, found in result.stale] == [("swivel", "creative")]
    assert published()["https://swivel.example.com/mcp"] == "creative"
    assert TypeReclassification.objects.filter(source="backfill_script").count() == 1


def test_a_failure_midway_leaves_whole_flips_and_a_rerun_converges(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        frozen(f"m{i}", "buying", "sales")
    plan = plan_backfill()
    import registry.publish as reclassify

    real_record_many = reclassify.record_many
    calls = {"n": 0}

    def crash_on_third_chunk(events: Iterable[TypeEvent]) -> list[TypeReclassification]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real_record_many(events)

    monkeypatch.setattr(reclassify, "record_many", crash_on_third_chunk)
    with pytest.raises(RuntimeError, match="killed"):
        apply_type_changes(plan.changes, source="backfill_script", chunk_size=2)
    # Two whole chunks landed: every flip has its audit row and no row lacks its flip.
    flipped = {u for u, t in published().items() if t == "sales"}
    audited = set(TypeReclassification.objects.filter(source="backfill_script").values_list("agent_url", flat=True))
    assert flipped == audited and len(flipped) == 4

    monkeypatch.setattr(reclassify, "record_many", real_record_many)
    rerun = apply_backfill(plan_backfill())
    assert len(rerun.applied) == 2 and not rerun.stale
    assert set(published().values()) == {"sales"}
    assert TypeReclassification.objects.filter(source="backfill_script").count() == 6


def test_apply_uses_a_constant_number_of_queries_per_chunk(
    db: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for i in range(8):
        frozen(f"m{i}", "creative" if i % 2 else "buying", "sales" if i % 2 else "signals")
    plan = plan_backfill()
    # per chunk: savepoint, lock, one update whatever the new types (2 here), audit insert,
    # which of the members are public (the change feed's listing), the feed's order lock, outbox insert, release
    with django_assert_num_queries(2 * (7 + feed_locks(1))):
        apply_type_changes(plan.changes[:4], source="backfill_script", chunk_size=2, run_id=uuid.uuid4())
    with django_assert_num_queries(1 * (7 + feed_locks(1))):
        apply_type_changes(plan.changes[4:], source="backfill_script", chunk_size=4, run_id=uuid.uuid4())
