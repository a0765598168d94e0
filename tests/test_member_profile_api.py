"""/api/me/member-profile: owners read and change their profile; the resolve rules apply."""

from typing import Any

import pytest
from django.contrib.auth.models import User

from audit.models import TypeReclassification
from members.models import MemberAgent, MemberProfile
from registry.models import Agent
from tests.factories import client_for, make_agent, make_profile, make_snapshot, register

URL = "/api/me/member-profile"


@pytest.fixture
def owner(db: None) -> User:
    user = User.objects.create_user("olga", password="pw")
    profile = make_profile("bidcliq", display_name="Bidcliq")
    profile.owners.add(user)
    agent = make_agent("https://bidcliq.example.com/mcp")
    make_snapshot(agent, "sales", ["get_products", "create_media_buy"])
    register(profile, agent, "buying")
    return user


def test_anonymous_gets_401(owner: User) -> None:
    response = client_for(None).get(URL)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("method", ["get", "put"])
@pytest.mark.parametrize("slug", ["bidcliq", "no-such-profile"])
def test_another_members_profile_and_a_missing_one_answer_alike(owner: User, method: str, slug: str) -> None:
    other = User.objects.create_user("eve", password="pw")
    body = {"slug": slug, "display_name": "x"} if method == "put" else None
    response = getattr(client_for(other), method)(f"{URL}?profile={slug}", body, format="json")
    not_found = {"detail": "No MemberProfile matches the given query.", "code": "not_found", "fields": {}}
    assert (response.status_code, response.json()) == (404, not_found)


def test_staff_who_do_not_own_it_get_404_too(owner: User) -> None:
    staff = User.objects.create_user("sam", password="pw", is_staff=True)
    assert client_for(staff).get(f"{URL}?profile=bidcliq").status_code == 404


def test_the_owner_sees_declared_and_published_with_the_reason(owner: User) -> None:
    document = client_for(owner).get(URL).json()
    assert document["slug"] == "bidcliq"
    [agent] = document["agents"]
    assert (agent["declared_type"], agent["published_type"], agent["inferred_type"]) == ("buying", "sales", "sales")
    assert (
        agent["explanation"]
        == "You said buying; the registry lists sales because the agent exposes get_products, create_media_buy."
    )


def test_creating_a_profile_resolves_and_audits_with_the_user(db: None) -> None:
    user = User.objects.create_user("nina", password="pw")
    known = make_agent("https://known.example.com/mcp")
    make_snapshot(known, None, ["ping"])
    response = client_for(user).post(
        URL,
        {
            "slug": "northwind",
            "display_name": "Northwind",
            "agents": [
                {"url": "HTTPS://Known.example.com/mcp/", "declared_type": "seller"},
                {"url": "https://fresh.example.com/a2a", "declared_type": "creative", "protocol": "a2a"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    agents = {a["url"]: a for a in response.json()["agents"]}
    assert agents["https://known.example.com/mcp"]["published_type"] == "unknown"  # no smuggling
    assert agents["https://fresh.example.com/a2a"]["published_type"] == "creative"
    assert MemberProfile.objects.get(slug="northwind").owners.get() == user
    assert set(TypeReclassification.objects.values_list("actor", "source")) == {("nina", "member_write")}


@pytest.mark.parametrize(
    "agent, field, message",
    [
        ({"url": "https://x.example.com/mcp"}, "declared_type", "This field is required."),
        ({"url": "https://x.example.com/mcp", "declared_type": "unknown"}, "declared_type", "not a declaration"),
        ({"url": "https://x.example.com/mcp", "declared_type": "publisher"}, "declared_type", "is not an agent type"),
        ({"url": "ftp://x.example.com", "declared_type": "sales"}, "url", "scheme must be http or https"),
    ],
)
def test_invalid_agents_get_a_field_error_and_change_nothing(
    db: None, agent: dict[str, Any], field: str, message: str
) -> None:
    user = User.objects.create_user("nina", password="pw")
    response = client_for(user).post(URL, {"slug": "northwind", "display_name": "N", "agents": [agent]}, format="json")
    assert response.status_code == 400
    assert message in response.json()["fields"]["agents"]["0"][field][0]
    assert not MemberProfile.objects.exists() and not Agent.objects.exists()


def test_a_url_of_another_member_is_a_409_and_changes_nothing(owner: User) -> None:
    user = User.objects.create_user("nina", password="pw")
    response = client_for(user).post(
        URL,
        {
            "slug": "copycat",
            "display_name": "C",
            "agents": [{"url": "https://BIDCLIQ.example.com/mcp", "declared_type": "sales"}],
        },
        format="json",
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Some of these agents are registered by another profile.",
        "code": "conflict",
        "fields": {"agents": ["https://bidcliq.example.com/mcp cannot be registered by this profile."]},
    }
    assert not MemberProfile.objects.filter(slug="copycat").exists()


def test_put_replaces_the_agents_and_leaves_untouched_types_alone(owner: User) -> None:
    profile = MemberProfile.objects.get(slug="bidcliq")
    extra = make_agent("https://second.example.com/mcp")
    register(profile, extra, "signals")
    rows_before = TypeReclassification.objects.count()
    response = client_for(owner).put(
        URL,
        {
            "slug": "bidcliq",
            "display_name": "Bidcliq Inc",
            "agents": [
                {"url": "https://bidcliq.example.com/mcp", "declared_type": "buying"},
                {"url": "https://third.example.com/mcp", "declared_type": "creative"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert sorted(a["url"] for a in response.json()["agents"]) == [
        "https://bidcliq.example.com/mcp",
        "https://third.example.com/mcp",
    ]
    assert not MemberAgent.objects.filter(agent=extra).exists()
    # Unregistered: the member's declaration no longer counts; never probed, so nothing is published.
    unregistered = Agent.objects.get(pk=extra.pk)
    assert (unregistered.type, unregistered.name, unregistered.unregistered_at is not None) == ("unknown", "", True)
    new_rows = TypeReclassification.objects.order_by("pk")[rows_before:]
    assert sorted((r.agent_url, r.old_type, r.new_type, r.source) for r in new_rows) == [
        ("https://second.example.com/mcp", "signals", "unknown", "member_write"),
        ("https://third.example.com/mcp", "unknown", "creative", "member_write"),
    ]


def test_the_slug_cannot_be_changed(owner: User) -> None:
    response = client_for(owner).put(URL, {"slug": "renamed", "display_name": "x"}, format="json")
    assert response.status_code == 400 and "cannot change" in response.json()["fields"]["slug"][0]


def test_patch_changes_only_the_fields_sent_and_put_requires_what_it_replaces(owner: User) -> None:
    client = client_for(owner)
    hidden = client.patch(URL, {"is_public": False}, format="json")
    assert hidden.status_code == 200
    assert (hidden.json()["display_name"], hidden.json()["is_public"]) == ("Bidcliq", False)
    assert [a["url"] for a in hidden.json()["agents"]] == ["https://bidcliq.example.com/mcp"]  # untouched
    renamed = client.patch(URL, {"display_name": "Bidcliq Media"}, format="json").json()
    assert (renamed["display_name"], renamed["is_public"]) == ("Bidcliq Media", False)
    refused = client.put(URL, {"is_public": True}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"display_name": ["This field is required."]}
    assert MemberProfile.objects.get(slug="bidcliq").display_name == "Bidcliq Media"


def test_a_user_without_a_profile_gets_404_saying_how_to_make_one(db: None) -> None:
    nobody = User.objects.create_user("newbie", password="pw")
    response = client_for(nobody).get(URL)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "You own no member profile; create one with POST /api/me/member-profile.",
        "code": "not_found",
        "fields": {},
    }
