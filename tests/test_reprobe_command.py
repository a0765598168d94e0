"""reprobe_unknown_agents against real servers on 127.0.0.1."""

import json

import pytest
from django.core import serializers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model
from django.utils import timezone

from audit.models import TypeReclassification
from crawler.models import ReprobeRun
from crawler.reprobe import apply_reprobe, probe_and_plan, select_unknown_agents
from members.models import MemberAgent, MemberProfile
from probe import ProbeLimits
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, make_snapshot, register


@pytest.fixture
def unknowns(db: None, official_agents: str, hostile: str) -> dict[str, Agent]:
    """Agents whose last probe inferred nothing, now each answering differently."""
    agents = {}
    # Registered as sales, probed once without a known tool: published unknown.
    sales = make_agent(f"{official_agents}/json/mcp")
    register(make_profile("acme"), sales, "sales")
    make_snapshot(sales, None, ["ping"])
    Agent.objects.filter(pk=sales.pk).update(type="unknown")
    agents["now_sales"] = sales
    agents["timeout"] = make_agent(f"{hostile}/never", type="unknown")
    make_snapshot(agents["timeout"], None, ["echo"])
    agents["oauth"] = make_agent(f"{hostile}/status/401")
    agents["dns"] = make_agent("http://agent.does-not-exist.invalid/mcp")
    agents["refused"] = make_agent("http://127.0.0.1:9/mcp")
    agents["still_unknown"] = make_agent(f"{official_agents}/empty/mcp")
    classified = make_agent(f"{official_agents}/card", protocol="a2a", type="sales")
    make_snapshot(classified, "sales", ["get_products"])  # not selected: already classified
    agents["paused"] = make_agent(f"{official_agents}/sse/mcp", monitoring_paused=True)
    return agents


def _dump() -> str:
    models: list[type[Model]] = [
        Agent,
        CapabilitySnapshot,
        MemberAgent,
        MemberProfile,
        TypeReclassification,
        ReprobeRun,
    ]
    return serializers.serialize("json", [obj for m in models for obj in m._default_manager.order_by("pk")])


def test_a_real_run_classifies_promotes_and_counts_failures_apart(
    unknowns: dict[str, Agent], capsys: pytest.CaptureFixture[str]
) -> None:
    before = CapabilitySnapshot.objects.get(agent=unknowns["timeout"])
    call_command("reprobe_unknown_agents", timeout=1.0, format="json", actor="ops")
    document = json.loads(capsys.readouterr().out)
    report = document["report"]
    assert report["scanned"] == 6  # not the classified one, not the paused one
    assert report["classified"] == {"sales": 1}
    assert report["still_unknown"] == 1 and report["still_unknown_sample"] == [unknowns["still_unknown"].url]
    assert report["probe_failed"] == {"timeout": 1}
    assert report["auth_required"] == 1  # a login wall, counted apart from failures
    assert report["dns_failed"] == {"dns": 1, "connect": 1}
    assert report["preserved"] == 1
    assert len(report["slowest"]) == 6 and report["slowest"][0]["url"] == unknowns["timeout"].url
    assert report["timed_out"] == [unknowns["timeout"].url]

    sales = Agent.objects.get(pk=unknowns["now_sales"].pk)
    assert sales.type == "sales"
    row = TypeReclassification.objects.get(source="reprobe")
    assert (row.agent_url, row.old_type, row.new_type, row.member, row.actor) == (
        sales.url,
        "unknown",
        "sales",
        "acme",
        "ops",
    )
    assert document["applied"]["promoted"] == 1 and document["applied"]["run_id"] == str(row.run_id)
    # The agent that now times out keeps its earlier snapshot untouched.
    after = CapabilitySnapshot.objects.get(agent=unknowns["timeout"])
    assert serializers.serialize("json", [after]) == serializers.serialize("json", [before])


def test_a_dry_run_writes_nothing(unknowns: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    before = _dump()
    call_command("reprobe_unknown_agents", dry_run=True, timeout=1.0)
    out = capsys.readouterr().out
    assert _dump() == before
    assert f"{unknowns['now_sales'].url}  unknown -> sales  (inferred nothing -> sales; promoted)" in out
    assert "DRY RUN (no writes): 1 changes would be made." in out
    assert "DNS/connect failed: 2 (connect 1, dns 1)" in out


def test_json_report_shape_is_stable(unknowns: dict[str, Agent], capsys: pytest.CaptureFixture[str]) -> None:
    call_command("reprobe_unknown_agents", dry_run=True, timeout=1.0, format="json", limit=2)
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"mode", "report", "changes", "applied"}
    assert set(document["report"]) == {
        "scanned",
        "classified",
        "unchanged",
        "still_unknown",
        "still_unknown_sample",
        "probe_failed",
        "dns_failed",
        "auth_required",
        "preserved",
        "skipped",
        "elapsed",
        "slowest",
        "timed_out",
    }
    assert document["report"]["scanned"] == 2 and document["applied"] is None


def test_a_row_changed_after_the_probe_is_stale(unknowns: dict[str, Agent]) -> None:
    agents = select_unknown_agents([unknowns["now_sales"].url])
    plan = probe_and_plan(agents, ProbeLimits(deadline=2, address_policy=ProbeLimits.from_settings().address_policy))
    Agent.objects.filter(pk=unknowns["now_sales"].pk).update(type="creative")  # a reviewer acted meanwhile
    applied = apply_reprobe(plan)
    assert (applied.stale, applied.promoted) == (1, 0)
    assert Agent.objects.get(pk=unknowns["now_sales"].pk).type == "creative"
    assert not TypeReclassification.objects.filter(source="reprobe").exists()


def test_an_agent_classified_by_a_crawl_meanwhile_is_skipped(unknowns: dict[str, Agent]) -> None:
    agents = select_unknown_agents([unknowns["now_sales"].url])
    plan = probe_and_plan(agents, ProbeLimits(deadline=2, address_policy=ProbeLimits.from_settings().address_policy))
    CapabilitySnapshot.objects.filter(agent=unknowns["now_sales"]).update(
        inferred_type="sales", probed_at=timezone.now()
    )
    applied = apply_reprobe(plan)
    assert (applied.skipped, applied.applied) == (1, 0)


def test_terminal_agents_only_with_include_terminal(unknowns: dict[str, Agent]) -> None:
    CapabilitySnapshot.objects.filter(agent=unknowns["timeout"]).update(terminal_state="unreachable")
    assert unknowns["timeout"] not in select_unknown_agents()
    assert unknowns["timeout"] in select_unknown_agents(include_terminal=True)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"timeout": 0}, "--timeout must be a positive"),
        ({"timeout": float("inf")}, "--timeout must be a positive, finite number"),
        ({"timeout": float("nan")}, "--timeout must be a positive, finite number"),
        ({"timeout": 1e308}, "from 0.5 to 300"),
        ({"limit": 0}, "--limit must be a whole number from 1 to"),
        ({"limit": 99999999999999999999}, "--limit must be a whole number from 1 to 1,000,000"),
        ({"concurrency": 0}, "--concurrency must be a whole number from 1 to"),
        ({"concurrency": 10**6}, "--concurrency must be a whole number from 1 to 1,000"),
        (
            {"url": ["https://nowhere.example.com/mcp"]},
            "No unpaused agent registered at https://nowhere.example.com/mcp",
        ),
        ({"url": ["gopher://x"]}, "scheme must be http or https"),
    ],
)
def test_it_refuses_bad_input(db: None, options: dict[str, object], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("reprobe_unknown_agents", **options)
