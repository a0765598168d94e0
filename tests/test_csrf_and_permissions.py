"""Every state-changing form and session-authenticated API call needs its CSRF token."""

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import TypeReclassification
from crawler.models import ReprobeRun
from tests.backfill_fixtures import frozen


@pytest.fixture
def csrf_client(db: None) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


def test_state_changing_posts_without_a_token_are_refused(csrf_client: Client) -> None:
    agent = frozen("bidcliq", "buying", "sales").agent
    run = ReprobeRun.objects.create(created_by="x", agent_ids=[agent.pk], status="ready", plan={"entries": []})
    change = f"{agent.pk}:buying:sales"
    posts = [
        ("/admin/registry/agent/", {"action": "pause_monitoring", "_selected_action": [agent.pk]}),
        (
            "/admin/registry/disagreement/",
            {"action": "adopt_inferred_type", "_selected_action": [agent.pk], "post": "yes", "change": [change]},
        ),
        (
            "/admin/members/memberprofile/",
            {
                "action": "backfill_agent_types",
                "_selected_action": [agent.registration.profile_id],
                "post": "yes",
                "change": [change],
            },
        ),
        (f"/admin/crawler/reproberun/{run.pk}/change/", {"_apply": "1"}),
        ("/api/me/member-profile", {"slug": "new", "display_name": "New"}),
        (f"/api/registry/agents/{quote(agent.url, safe='')}/refresh", {}),
    ]
    for url, data in posts:
        response = csrf_client.post(url, data)
        assert response.status_code == 403, url
    agent.refresh_from_db()
    assert (agent.type, agent.monitoring_paused) == ("buying", False)
    assert not TypeReclassification.objects.exclude(source="member_write").exists()
    assert ReprobeRun.objects.get().status == "ready"
