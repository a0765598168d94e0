import json

import pytest
from django.core.management import call_command
from pytest_django import DjangoAssertNumQueries

from audit.models import TypeReclassification
from members.backfill import plan_backfill
from registry.models import Agent, CapabilitySnapshot
from tests.backfill_fixtures import frozen, published, upstream_story

WHY = "[correction] the probe infers sales from what the agent advertises; sales is published"


def _state() -> tuple[object, ...]:
    return (
        published(),
        list(TypeReclassification.objects.values_list("pk", flat=True)),
        list(CapabilitySnapshot.objects.values_list("pk", "inferred_type")),
        list(Agent.objects.values_list("pk", "updated_at")),
    )


def test_it_shows_exactly_the_two_upstream_flips_and_writes_nothing(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream_story()
    before = _state()
    call_command("backfill_member_agent_types", dry_run=True)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"bidcliq  https://bidcliq.example.com/mcp  buying -> sales  {WHY}",
        f"swivel  https://swivel.example.com/mcp  buying -> sales  {WHY}",
        "DRY RUN (no writes): 4 profiles scanned, 2 with type changes, 2 agent rows would flip (2 corrections), "
        "0 stale rows skipped.",
    ]
    assert _state() == before


def test_the_verbose_plan_says_why(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", dry_run=True, verbosity=2)
    assert "(declared buying, inferred sales, probed 20" in capsys.readouterr().out


@pytest.mark.parametrize(
    "declared, inferred, expected",
    [
        ("buying", None, None),  # the buying carve-out: nothing to change
        ("sales", None, "unknown"),  # no smuggling: unconfirmed sales is unknown
        ("creative", "signals", "signals"),
        ("seller", "sales", None),  # legacy spelling, already right
    ],
)
def test_the_resolve_rules_seen_through_the_plan(
    db: None, declared: str, inferred: str | None, expected: str | None
) -> None:
    frozen("acme", declared, inferred)
    plan = plan_backfill()
    assert [c.new_type for c in plan.changes] == ([expected] if expected else [])


def test_a_dry_run_over_max_flips_prints_the_whole_plan_and_warns(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", dry_run=True, max_flips=1)
    captured = capsys.readouterr()
    assert captured.out.count(" -> ") == 2
    assert "The plan has 2 changes, more than --max-flips 1" in captured.err


def test_json_output_is_one_document(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", dry_run=True, format="json")
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["mode"] == "dry_run"
    assert document["summary"]["planned"] == 2 and document["summary"]["run_id"] is None
    assert [(c["member"], c["old_type"], c["new_type"]) for c in document["changes"]] == [
        ("bidcliq", "buying", "sales"),
        ("swivel", "buying", "sales"),
    ]


def test_it_can_be_limited_to_profiles(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    upstream_story()
    call_command("backfill_member_agent_types", dry_run=True, profiles=["swivel"])
    assert "1 profiles scanned, 1 with type changes, 1 agent rows would flip" in capsys.readouterr().out


def test_an_unknown_profile_is_refused(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No member profile nobody"):
        call_command("backfill_member_agent_types", dry_run=True, profiles=["nobody"])


def test_planning_takes_a_constant_number_of_queries_per_chunk(
    db: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for i in range(12):
        frozen(f"m{i}", "buying", "sales" if i % 2 else None)
    # profiles count, pk bounds, agents count, + one query per chunk
    with django_assert_num_queries(3 + 3):
        small = plan_backfill(chunk_size=5)
    with django_assert_num_queries(3 + 12):
        tiny = plan_backfill(chunk_size=1)
    assert len(small.changes) == len(tiny.changes) == 6
