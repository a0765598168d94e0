from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.models import TypeReclassification
from members.models import MemberAgent
from registry.models import Agent
from tests.factories import make_agent, make_profile, make_snapshot, make_staff, register


@pytest.fixture
def populated(db: None) -> MemberAgent:
    agent = make_agent("https://bidcliq.example.com/mcp")
    make_snapshot(agent, "sales", ["get_products"])
    return register(make_profile("bidcliq"), agent, "buying", actor="seed")


@pytest.fixture
def staff_client(client: Client, db: None) -> Client:
    client.force_login(make_staff())
    return client


def _pages(member_agent: MemberAgent) -> list[str]:
    row = TypeReclassification.objects.get()
    return [
        reverse("admin:index"),
        reverse("admin:registry_agent_changelist"),
        reverse("admin:registry_agent_change", args=[member_agent.agent_id]),
        reverse("admin:members_memberprofile_changelist"),
        reverse("admin:members_memberprofile_change", args=[member_agent.profile_id]),
        reverse("admin:members_memberprofile_add"),
        reverse("admin:audit_typereclassification_changelist"),
        reverse("admin:audit_typereclassification_change", args=[row.pk]),
    ]


def test_admin_pages_render_for_staff(staff_client: Client, populated: MemberAgent) -> None:
    for url in _pages(populated):
        assert staff_client.get(url).status_code == 200, url


def test_admin_pages_refuse_anonymous_and_non_staff(client: Client, populated: MemberAgent) -> None:
    client.force_login(User.objects.create_user("member", password="pw"))
    for url in _pages(populated):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_profile_page_shows_declared_beside_published(staff_client: Client, populated: MemberAgent) -> None:
    page = staff_client.get(reverse("admin:members_memberprofile_change", args=[populated.profile_id])).content.decode()
    assert "Published type" in page and "Inferred by probe" in page
    assert 'value="buying" selected' in page
    assert "<p>sales</p>" in page


def test_audit_admin_is_read_only(staff_client: Client, populated: MemberAgent) -> None:
    row = TypeReclassification.objects.get()
    assert staff_client.get(reverse("admin:audit_typereclassification_add")).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:audit_typereclassification_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    page = staff_client.get(reverse("admin:audit_typereclassification_change", args=[row.pk])).content.decode()
    assert 'name="_save"' not in page
    assert TypeReclassification.objects.count() == 1


def test_audit_admin_filters_by_run_id_and_searches_by_url(staff_client: Client, populated: MemberAgent) -> None:
    url = reverse("admin:audit_typereclassification_changelist")
    assert "bidcliq.example.com" in staff_client.get(url, {"q": "bidcliq.example"}).content.decode()
    response = staff_client.get(url, {"run_id": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 200 and "bidcliq.example.com/mcp</td>" not in response.content.decode()


def _add_agent_inline(client: Client, slug: str, agent_url: str, declared_type: str) -> Any:
    profile = make_profile(slug)
    return client.post(
        reverse("admin:members_memberprofile_change", args=[profile.pk]),
        {
            "slug": slug,
            "display_name": slug.title(),
            "is_public": "on",
            "agents-TOTAL_FORMS": "1",
            "agents-INITIAL_FORMS": "0",
            "agents-MIN_NUM_FORMS": "0",
            "agents-MAX_NUM_FORMS": "1000",
            "agents-0-agent_url": agent_url,
            "agents-0-declared_type": declared_type,
            "agents-0-display_name": slug.title(),
        },
    )


def test_adding_an_agent_inline_resolves_and_audits_with_the_staff_user(staff_client: Client, db: None) -> None:
    response = _add_agent_inline(staff_client, "swivel", "HTTPS://Swivel.example.com/mcp/", "buying")
    assert response.status_code == 302, response.content.decode()[:2000]
    agent = Agent.objects.get(url="https://swivel.example.com/mcp")
    assert agent.type == "buying"
    row = TypeReclassification.objects.get()
    assert (row.member, row.actor, row.source) == ("swivel", "staff", "member_write")


def test_an_agent_url_of_another_member_is_refused_inline(staff_client: Client, populated: MemberAgent) -> None:
    response = _add_agent_inline(staff_client, "other", "https://bidcliq.example.com/mcp", "sales")
    assert response.status_code == 200
    assert "already registered by bidcliq" in response.content.decode()
    assert MemberAgent.objects.count() == 1


def test_the_published_type_is_not_editable_in_the_agent_admin(staff_client: Client, populated: MemberAgent) -> None:
    url = reverse("admin:registry_agent_change", args=[populated.agent_id])
    staff_client.post(
        url,
        {
            "url": populated.agent.url,
            "name": "x",
            "protocol": "mcp",
            "type": "creative",
            "snapshot-TOTAL_FORMS": "1",
            "snapshot-INITIAL_FORMS": "1",
            "snapshot-MIN_NUM_FORMS": "0",
            "snapshot-MAX_NUM_FORMS": "0",
        },
    )
    assert Agent.objects.get(pk=populated.agent_id).type == "sales"
