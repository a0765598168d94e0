"""The agent list staff monitor: columns, filters, a constant number of queries, actions."""

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, make_snapshot, make_staff, register

CHANGELIST = reverse("admin:registry_agent_changelist")


@pytest.fixture
def staff(client: Client, db: None) -> Client:
    client.force_login(make_staff())
    cache.clear()
    return client


def _fleet(n: int, prefix: str) -> None:
    profile = make_profile(prefix)
    for i in range(n):
        agent = make_agent(f"https://{prefix}{i}.example.com/mcp")
        register(profile, agent, "buying")
        make_snapshot(agent, "sales" if i % 2 else None, ["get_products"], error_kind="timeout" if i % 3 == 0 else "")


def test_a_page_of_100_renders_with_a_constant_number_of_queries(staff: Client) -> None:
    _fleet(5, "small")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert staff.get(CHANGELIST).status_code == 200
    _fleet(120, "large")
    with CaptureQueriesContext(connection) as large:
        page = staff.get(CHANGELIST).content.decode()
    assert page.count('class="action-select"') == 100
    assert len(small.captured_queries) == len(large.captured_queries)


def test_it_shows_what_staff_monitor(staff: Client) -> None:
    agent = make_agent("https://late.example.com/mcp", type="unknown")
    CapabilitySnapshot.objects.create(
        agent=agent,
        error_kind="dns",
        unknown_attempts=3,
        last_attempt_at="2026-11-20T10:00:00Z",
        next_probe_after="2026-11-27T10:00:00Z",
    )
    page = staff.get(CHANGELIST).content.decode()
    assert "2026-11-20 10:00 (dns)" in page
    assert "attempt 3, next 2026-11-27" in page


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"disagreement": "open"}, {"split"}),
        ({"snapshot__terminal_state__exact": "unreachable"}, {"gone"}),
        ({"monitoring_paused__exact": "1"}, {"paused"}),
        ({"member": "acme"}, {"split", "fine"}),
        ({"type__exact": "unknown"}, {"gone"}),
        ({"q": "fine"}, {"fine"}),
    ],
)
def test_filters(staff: Client, query: dict[str, str], expected: set[str]) -> None:
    acme = make_profile("acme")
    split = make_agent("https://split.example.com/mcp")
    register(acme, split, "buying")
    make_snapshot(split, "sales")
    fine = make_agent("https://fine.example.com/mcp")
    make_snapshot(fine, "sales")
    register(acme, fine, "sales")
    gone = make_agent("https://gone.example.com/mcp")
    CapabilitySnapshot.objects.create(agent=gone, terminal_state="unreachable")
    make_agent("https://paused.example.com/mcp", type="sales", monitoring_paused=True)
    page = staff.get(CHANGELIST, query).content.decode()
    shown = {name for name in ("split", "fine", "gone", "paused") if f'title="https://{name}.example.com/mcp"' in page}
    assert shown == expected


def test_pause_and_resume(staff: Client) -> None:
    agent = make_agent()
    staff.post(CHANGELIST, {"action": "pause_monitoring", "_selected_action": [agent.pk]})
    assert Agent.objects.get(pk=agent.pk).monitoring_paused
    staff.post(CHANGELIST, {"action": "resume_monitoring", "_selected_action": [agent.pk]})
    assert not Agent.objects.get(pk=agent.pk).monitoring_paused


def test_probe_now_applies_the_policy_once_a_minute(
    staff: Client, official_agents: str, django_capture_on_commit_callbacks: Any
) -> None:
    agent = make_agent(f"{official_agents}/json/mcp")
    with override_settings(REDIS_URL=""):
        # The probe runs once the request's writes are committed (inline without Redis).
        with django_capture_on_commit_callbacks(execute=True):
            first = staff.post(CHANGELIST, {"action": "probe_now", "_selected_action": [agent.pk]}, follow=True)
        assert "Probe done for 1 agent;" in first.content.decode()
        assert Agent.objects.get(pk=agent.pk).type == "sales"
        second = staff.post(CHANGELIST, {"action": "probe_now", "_selected_action": [agent.pk]}, follow=True)
    assert "Probe done for 0 agents; 1 probed less than a minute ago" in second.content.decode()


def test_view_only_staff_see_no_actions(client: Client, db: None) -> None:

    client.force_login(make_staff("vic", superuser=False, permissions=("view_agent",)))
    make_agent()
    page = client.get(CHANGELIST).content.decode()
    assert "probe_now" not in page and "pause_monitoring" not in page
