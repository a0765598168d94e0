"""Every planned change says its rule in words and its kind, in the command and on the admin page."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from members.backfill import plan_backfill, why
from members.models import MemberAgent
from registry.models import Agent
from registry.publish import change_kind
from tests.backfill_fixtures import frozen, published
from tests.factories import make_staff


@pytest.mark.parametrize(
    "rule, declared, inferred, words",
    [
        ("inferred", "buying", "sales", "the probe infers sales from what the agent advertises; sales is published"),
        ("unconfirmed", "sales", None, "the probe answered with no AdCP tool; declared sales is not published"),
        ("buying_unseen", "buying", None, "declared buying, which no probe can see; buying is published"),
        ("declared", "creative", None, "no probe has answered; the declared creative is published"),
        ("review_kept", "buying", "sales", "a reviewer kept the published type against the probe's inference"),
    ],
)
def test_each_rule_reads_as_words(rule: str, declared: str, inferred: str | None, words: str) -> None:
    assert why(rule, declared=declared, inferred=inferred) == words


@pytest.mark.parametrize(
    "old, new, kind",
    [
        ("unknown", "sales", "promotion"),
        ("", "creative", "promotion"),
        ("buying", "sales", "correction"),
        ("sales", "unknown", "demotion"),
        ("sales", "sales", "none"),
        ("unknown", "unknown", "none"),
    ],
)
def test_each_change_has_its_kind(old: str, new: str, kind: str) -> None:
    assert change_kind(old, new) == kind


@pytest.fixture
def three_kinds(db: None) -> None:
    frozen("bidcliq", "buying", "sales")  # correction
    frozen("quietco", "sales", None, tools=["echo"])  # demotion: answered, no AdCP tool
    canvas = frozen("canvas", "creative", "creative", tools=["build_creative"])
    Agent.objects.filter(pk=canvas.agent_id).update(type="unknown")  # promotion


def test_the_command_names_each_rule_and_kind_and_counts_them(three_kinds: None) -> None:
    out, err = StringIO(), StringIO()
    call_command("backfill_member_agent_types", "--no-input", stdout=out, stderr=err)
    text = out.getvalue()
    assert "canvas  https://canvas.example.com/mcp  unknown -> creative  [promotion]" in text
    assert "bidcliq  https://bidcliq.example.com/mcp  buying -> sales  [correction]" in text
    assert (
        "quietco  https://quietco.example.com/mcp  sales -> unknown  [demotion] the probe answered with no AdCP tool; "
        "declared sales is not published"
    ) in text
    assert "3 agent rows flipped (1 promotion, 1 correction, 1 demotion)" in text
    assert "demotes 1 agent to unknown" in err.getvalue()  # said, not silently applied


def test_json_carries_the_kind_and_the_words(three_kinds: None) -> None:
    out = StringIO()
    call_command("backfill_member_agent_types", "--dry-run", "--format", "json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["summary"]["kinds"] == {"promotion": 1, "correction": 1, "demotion": 1}
    assert {(c["agent_url"], c["kind"]) for c in document["changes"]} == {
        ("https://canvas.example.com/mcp", "promotion"),
        ("https://bidcliq.example.com/mcp", "correction"),
        ("https://quietco.example.com/mcp", "demotion"),
    }
    assert all(c["why"] for c in document["changes"])


def test_exclude_demotions_leaves_them_out_and_says_so(three_kinds: None) -> None:
    out = StringIO()
    call_command("backfill_member_agent_types", "--no-input", "--exclude-demotions", stdout=out)
    assert published()["https://quietco.example.com/mcp"] == "sales"
    assert published()["https://bidcliq.example.com/mcp"] == "sales"
    assert "left out: quietco  https://quietco.example.com/mcp  sales -> unknown  [demotion]" in out.getvalue()
    assert "1 left out" in out.getvalue()


def test_the_admin_applies_only_the_ticked_changes(three_kinds: None, client: Client) -> None:
    client.force_login(make_staff())
    changelist = reverse("admin:members_memberprofile_changelist")
    profiles = list(MemberAgent.objects.values_list("profile_id", flat=True))
    first = client.post(changelist, {"action": "backfill_agent_types", "_selected_action": profiles})
    page = first.content.decode()
    assert "the probe answered with no AdCP tool; declared sales is not published" in page and "demotion" in page
    ticked = [c.key for c in plan_backfill().changes if c.agent_url != "https://quietco.example.com/mcp"]
    body = {"action": "backfill_agent_types", "_selected_action": profiles, "post": "yes", "change": ticked}
    done = client.post(changelist, body, follow=True).content.decode()
    assert published()["https://quietco.example.com/mcp"] == "sales"  # unticked: untouched
    assert published()["https://bidcliq.example.com/mcp"] == "sales"
    assert published()["https://canvas.example.com/mcp"] == "creative"
    assert "1 left out" in done


def test_the_admin_shows_kept_by_review_apart_as_the_command_does(three_kinds: None, client: Client) -> None:
    from crawler.policy import apply_probe_results
    from probe import ProbeResult
    from registry.review import keep_published, review_plan

    bidcliq = Agent.objects.get(url="https://bidcliq.example.com/mcp")
    apply_probe_results([(bidcliq.pk, ProbeResult(bidcliq.url, "mcp", tool_names=["get_products"]))])
    keep_published(review_plan([bidcliq.pk]), actor="rita")
    client.force_login(make_staff())
    profiles = list(MemberAgent.objects.values_list("profile_id", flat=True))
    page = client.post(
        reverse("admin:members_memberprofile_changelist"),
        {"action": "backfill_agent_types", "_selected_action": profiles},
    ).content.decode()
    kept = page[page.index('id="kept-by-review"') :]
    assert "https://bidcliq.example.com/mcp" in kept
    plan = page[page.index('id="change-plan"') : page.index('id="kept-by-review"')]
    assert "https://bidcliq.example.com/mcp" not in plan
    out = StringIO()
    call_command("backfill_member_agent_types", "--dry-run", stdout=out)
    assert "kept by review: bidcliq  https://bidcliq.example.com/mcp  buying (rules say sales)" in out.getvalue()
