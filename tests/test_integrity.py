"""Integrity against members and careless staff: clean errors, permissions, no leaks."""

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from members.models import validate_member_slug
from registry.models import Agent
from tests.factories import make_agent, make_profile, make_staff, register


@pytest.mark.parametrize(
    "url",
    [
        "/registry/?q=%00",
        "/api/registry/agents?q=%00",
        "/api/registry/agents?member=%00",
        "/api/me/member-profile?profile=%00",
        "/admin/registry/agent/?member=%00",
        "/registry/?q=a%1Fb",
        "/registry/?%00=x",
    ],
)
def test_control_characters_in_query_parameters_are_a_400(db: None, url: str) -> None:
    client = Client()
    client.force_login(make_staff())
    response = client.get(url)
    assert response.status_code == 400
    assert "control characters" in response.getvalue().decode()


def test_ordinary_query_parameters_still_pass(db: None, client: Client) -> None:
    assert client.get("/registry/?q=caf%C3%A9%09x").status_code == 200


@pytest.mark.parametrize("slug", ["admin\n", "acme\n", "acme\r", " acme"])
def test_a_slug_with_a_trailing_newline_is_refused(slug: str) -> None:
    with pytest.raises(ValidationError):
        validate_member_slug(slug)


@pytest.mark.parametrize("public, status", [(True, 403), (False, 404)])
def test_refresh_does_not_reveal_a_private_agent(db: None, public: bool, status: int) -> None:
    agent = make_agent("https://private.example.com/mcp")
    register(make_profile(is_public=public), agent, "sales")
    client = APIClient()
    client.force_authenticate(User.objects.create_user("eve"))
    response = client.post(f"/api/registry/agents/{quote(agent.url, safe='')}/refresh")
    assert response.status_code == status
    unregistered = client.post(f"/api/registry/agents/{quote('https://nobody.example.com/mcp', safe='')}/refresh")
    assert unregistered.status_code == 404


@pytest.mark.parametrize("permissions, status", [((), 403), (("manage_job_queue",), 200)])
def test_the_job_queue_needs_its_own_permission(db: None, permissions: tuple[str, ...], status: int) -> None:
    client = Client()
    client.force_login(make_staff("jo", superuser=False, permissions=permissions))
    assert client.get("/admin/django-rq/").status_code == status
    anonymous = Client().get("/admin/django-rq/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]


@pytest.mark.parametrize("permissions, status", [((), 403), (("view_agent",), 200)])
def test_the_dashboard_needs_view_agent(db: None, permissions: tuple[str, ...], status: int) -> None:
    client = Client()
    client.force_login(make_staff("dee", superuser=False, permissions=permissions))
    assert client.get("/admin/dashboard/").status_code == status


def test_staff_cannot_repoint_an_agent_to_another_url(db: None) -> None:
    agent = make_agent("https://agent.example.com/mcp", name="Agent")
    client = Client()
    client.force_login(make_staff("carla", superuser=False, permissions=("change_agent", "view_agent")))
    page = client.get(f"/admin/registry/agent/{agent.pk}/change/").getvalue().decode()
    assert 'name="url"' not in page  # shown, not editable
    client.post(
        f"/admin/registry/agent/{agent.pk}/change/",
        {"url": "https://elsewhere.example.com/mcp", "name": "Renamed", "protocol": "mcp",
         "snapshot-TOTAL_FORMS": "0", "snapshot-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert Agent.objects.values_list("url", "name").get(pk=agent.pk) == ("https://agent.example.com/mcp", "Renamed")
