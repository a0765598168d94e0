"""POST /api/registry/agents/<url>/refresh against a real agent on 127.0.0.1."""

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import TypeReclassification
from registry.models import Agent
from tests.factories import make_agent, make_profile, make_staff, register


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(db: None, official_agents: str) -> Agent:
    owner = User.objects.create_user("olga", password="pw")
    profile = make_profile("acme")
    profile.owners.add(owner)
    agent = make_agent(f"{official_agents}/json/mcp")
    register(profile, agent, "sales")
    Agent.objects.filter(pk=agent.pk).update(type="unknown")
    return agent


def refresh(user: User | None, url: str) -> Any:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client.post(f"/api/registry/agents/{quote(url, safe='')}/refresh")


def test_the_owner_refreshes_and_the_agent_is_promoted(agent: Agent) -> None:
    response = refresh(User.objects.get(username="olga"), agent.url)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["inferred_type"], body["promoted"], body["type"], body["error_kind"]) == ("sales", True, "sales", None)
    row = TypeReclassification.objects.get(source="crawler_promote")
    assert row.actor == "olga"


@pytest.mark.parametrize(
    "who, status", [(None, 401), ("other", 403), ("staff who may change agents", 200), ("staff, no permission", 403)]
)
def test_the_permission_matrix(agent: Agent, who: str | None, status: int) -> None:
    user = None
    if who == "other":
        user = User.objects.create_user("eve", password="pw")
    elif who == "staff who may change agents":
        user = make_staff("sam", superuser=False, permissions=("change_agent",))
    elif who == "staff, no permission":
        # As in the admin, where "Probe now" asks for the change permission.
        user = User.objects.create_user("sid", password="pw", is_staff=True)
    assert refresh(user, agent.url).status_code == status


def test_paused_agents_are_a_409(agent: Agent) -> None:
    Agent.objects.filter(pk=agent.pk).update(monitoring_paused=True)
    assert refresh(User.objects.get(username="olga"), agent.url).status_code == 409


def test_one_refresh_per_agent_per_minute(agent: Agent) -> None:
    owner = User.objects.get(username="olga")
    assert refresh(owner, agent.url).status_code == 200
    second = refresh(owner, agent.url)
    assert second.status_code == 429
    assert 0 < int(second["Retry-After"]) <= 60


def test_thirty_refreshes_per_user_per_hour(db: None, official_agents: str) -> None:
    staff = make_staff("sam", superuser=False, permissions=("change_agent",))
    agents = [make_agent(f"{official_agents}/json/mcp?n={i}") for i in range(31)]
    statuses = [refresh(staff, a.url).status_code for a in agents]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_a_failed_probe_is_a_502_with_the_reason(db: None, hostile: str) -> None:
    staff = make_staff("sam", superuser=False, permissions=("change_agent",))
    agent = make_agent(f"{hostile}/status/500")
    response = refresh(staff, agent.url)
    assert response.status_code == 502
    assert response.json()["error_kind"] == "http_status"


def test_a_target_that_is_not_allowed_is_a_400(agent: Agent) -> None:
    with override_settings(AGENT_PROBE_ALLOW_PRIVATE=False, AGENT_PROBE_ALLOWED_NETWORKS=[]):
        response = refresh(User.objects.get(username="olga"), agent.url)
    assert response.status_code == 400
    assert "Not an allowed probe target" in response.json()["detail"]


@pytest.mark.parametrize("url, status", [("https://nowhere.example.com/mcp", 404), ("not a url", 400)])
def test_unknown_and_malformed_urls(db: None, url: str, status: int) -> None:
    staff = make_staff("sam", superuser=False, permissions=("change_agent",))
    assert refresh(staff, url).status_code == status
