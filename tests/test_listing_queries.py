"""Listings never load the stored tool lists: a page of agents must not cost their tools."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import MemberProfile
from tests.factories import make_agent, make_profile, make_snapshot, make_staff, register

TOOL_COLUMNS = ('"registry_capabilitysnapshot"."tools"', '"registry_capabilitysnapshot"."tool_names"')


@pytest.fixture
def listed(db: None) -> MemberProfile:
    profile = make_profile("acme")
    for i in range(3):
        agent = make_agent(f"https://a{i}.acme.example/mcp")
        register(profile, agent, "buying")
        make_snapshot(agent, "sales", ["get_products", *(f"tool_{n}" for n in range(200))])
    return profile


def _tool_columns_read(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in queries.captured_queries if any(column in q["sql"] for column in TOOL_COLUMNS)]


@pytest.mark.parametrize(
    "url",
    [
        "/registry/",
        "/api/registry/agents",
        "/api/me/member-profile",
        reverse("admin:registry_agent_changelist"),
        reverse("admin:registry_disagreement_changelist"),
    ],
)
def test_listings_do_not_select_the_tool_columns(client: Client, listed: MemberProfile, url: str) -> None:
    owner = User.objects.create_user("olga")
    listed.owners.add(owner)
    client.force_login(make_staff() if url.startswith("/admin/") else owner)
    assert _tool_columns_read(client, url) == []


def test_a_member_profiles_agent_inline_does_not_select_the_tool_columns(client: Client, listed: MemberProfile) -> None:
    client.force_login(make_staff())
    assert _tool_columns_read(client, reverse("admin:members_memberprofile_change", args=[listed.pk])) == []


def test_one_agents_page_still_shows_its_tools(client: Client, listed: MemberProfile) -> None:
    client.force_login(make_staff())
    agent = listed.agents.first()
    assert agent is not None
    page = client.get(reverse("admin:registry_agent_change", args=[agent.agent_id])).content.decode()
    assert "tool_199" in page
