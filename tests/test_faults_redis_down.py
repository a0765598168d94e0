"""Redis down: the web and admin keep serving; what needs Redis says so clearly."""

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from rest_framework.test import APIClient

from registry.models import Agent
from tests.factories import make_agent, make_profile, make_staff, register

DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(db: None) -> Iterator[None]:
    with override_settings(
        REDIS_URL=DEAD,
        RQ_QUEUES={"crawl": {"URL": DEAD}, "default": {"URL": DEAD}},
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD},
            "public": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "public"},
        },
    ):
        yield


@pytest.fixture
def agent(db: None, official_agents: str) -> object:
    agent = make_agent(f"{official_agents}/json/mcp")
    register(make_profile("acme"), agent, "sales")
    return agent


def test_public_pages_and_the_admin_keep_serving(redis_down: None, agent: Agent, client: Client) -> None:
    assert client.get("/registry/").status_code == 200
    assert client.get("/api/registry/agents").status_code == 200
    client.force_login(make_staff())
    assert client.get("/admin/registry/agent/").status_code == 200
    assert client.get("/admin/dashboard/").status_code == 200


def test_probe_now_says_what_is_wrong(redis_down: None, agent: Agent, client: Client) -> None:
    client.force_login(make_staff())
    response = client.post(
        "/admin/registry/agent/", {"action": "probe_now", "_selected_action": [agent.pk]}, follow=True
    )
    assert response.status_code == 200
    # The queue is checked before any agent's minute is claimed, so nothing is held for a probe never sent.
    assert "Could not enqueue the probes: Redis is unavailable" in response.content.decode()


def test_the_refresh_api_answers_503(redis_down: None, agent: Agent) -> None:
    client = APIClient()
    client.force_authenticate(make_staff())
    from urllib.parse import quote

    response = client.post(f"/api/registry/agents/{quote(agent.url, safe='')}/refresh")
    assert response.status_code == 503
    assert "Refresh is unavailable" in response.json()["detail"]


def test_the_crawl_command_explains_and_sync_still_works(
    redis_down: None, agent: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CommandError, match="Redis is unavailable.*--sync"):
        call_command("crawl_agents")
    call_command("crawl_agents", sync=True)
    assert "1 probed" in capsys.readouterr().out
