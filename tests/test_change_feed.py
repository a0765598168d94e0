"""GET /api/registry/feed: what changed in the public registry, from the outbox, in commit order."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Notice, NoticeKind, write_notices
from members.registration import Registration, register_agents
from tests.factories import client_for, make_profile

FEED = "/api/registry/feed"
URL = "https://agents.acme.example/mcp"


def _feed(query: str = "") -> dict[str, Any]:
    response = APIClient().get(f"{FEED}{query}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def _kinds(query: str = "") -> list[tuple[str, dict[str, Any]]]:
    return [(event["kind"], event["data"]) for event in _feed(query)["results"]]


@pytest.fixture
def owner(db: None) -> User:
    user = User.objects.create_user("ann", password="pw")
    profile = make_profile("acme", display_name="Acme")
    profile.owners.add(user)
    return user


def _put(user: User, **body: Any) -> None:
    response = client_for(user).put("/api/me/member-profile", {"display_name": "Acme", **body}, format="json")
    assert response.status_code == 200, response.content


def test_registering_changing_hiding_and_removing_give_exactly_these_events_in_order(owner: User) -> None:
    _put(owner, agents=[{"url": URL, "declared_type": "sales"}])
    _put(owner, agents=[{"url": URL, "declared_type": "creative"}])
    _put(owner, is_public=False)
    _put(owner, agents=[{"url": URL, "declared_type": "signals"}], is_public=False)  # private: not in the feed
    _put(owner, is_public=True)
    _put(owner, agents=[])
    assert _kinds() == [
        ("agent.type_changed", {"old": "unknown", "new": "sales", "source": "member_write"}),
        ("agent.registered", {"declared_type": "sales", "protocol": "mcp"}),
        ("agent.type_changed", {"old": "sales", "new": "creative", "source": "member_write"}),
        ("agent.unregistered", {"reason": "profile made private"}),
        # its change while private is not listed: the feed's history never changes
        ("agent.registered", {"declared_type": "signals", "protocol": "mcp"}),
        ("agent.type_changed", {"old": "signals", "new": "unknown", "source": "member_write"}),
        ("agent.unregistered", {"reason": "unregistered"}),
    ]
    events = _feed()["results"]
    assert all(e["agent_url"] == URL and e["member"] == "acme" for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def test_a_change_that_rolled_back_is_not_in_the_feed(db: None) -> None:
    profile = make_profile("acme")
    with pytest.raises(RuntimeError), transaction.atomic():
        register_agents(profile, [Registration(URL, "sales")])
        raise RuntimeError("the request failed after the write")
    assert _kinds() == []
    register_agents(profile, [Registration(URL, "sales")])
    assert [kind for kind, _ in _kinds()] == ["agent.type_changed", "agent.registered"]


def test_resuming_after_an_event_gives_only_what_came_after(owner: User) -> None:
    _put(owner, agents=[{"url": URL, "declared_type": "sales"}])
    first = _feed("?limit=1")
    assert len(first["results"]) == 1 and first["next"].endswith(f"after={first['results'][0]['id']}&limit=1")
    second = APIClient().get(first["next"]).json()
    assert [e["kind"] for e in second["results"]] == ["agent.registered"]
    third = APIClient().get(second["next"]).json()
    assert third["results"] == [] and third["next"] == second["next"]  # poll the same cursor
    _put(owner, agents=[{"url": URL, "declared_type": "creative"}])
    assert [e["data"]["new"] for e in APIClient().get(second["next"]).json()["results"]] == ["creative"]
    assert [k for k, _ in _kinds("?kinds=agent.registered")] == ["agent.registered"]


def test_a_private_profiles_agents_never_appear(db: None) -> None:
    register_agents(make_profile("hidden", is_public=False), [Registration(URL, "sales")])
    assert _kinds() == []
    assert Notice.objects.filter(kind=NoticeKind.REGISTERED).exists()  # its owners still hear of it


@pytest.mark.parametrize(
    "query,why",
    [
        ("?after=abc", "after must be a whole number"),
        ("?after=-1", "after must be a whole number"),
        ("?limit=0", "limit must be a whole number from 1 to 1000"),
        ("?limit=1001", "limit must be a whole number from 1 to 1000"),
        ("?kinds=agent.nonsense", "Unknown kind 'agent.nonsense'"),
    ],
)
def test_a_malformed_cursor_or_filter_is_a_400(db: None, query: str, why: str) -> None:
    response = APIClient().get(f"{FEED}{query}")
    assert response.status_code == 400 and why in response.json()["detail"]


def test_a_cursor_older_than_90_days_is_gone(db: None) -> None:
    register_agents(make_profile("acme"), [Registration(URL, "sales")])
    first, second = Notice.objects.order_by("pk")
    Notice.objects.update(created_at=timezone.now() - timedelta(days=91))
    response = APIClient().get(f"{FEED}?after={first.pk}")
    assert response.status_code == 410
    assert response.json()["code"] == "cursor_expired" and response.json()["newest"] == second.pk
    assert "Re-read the listing" in response.json()["detail"]
    assert APIClient().get(f"{FEED}?after={second.pk}").status_code == 200  # nothing after it expired


@pytest.mark.parametrize("agents", [2, 200])
def test_a_feed_page_costs_the_same_queries_whatever_its_size(db: None, agents: int) -> None:
    register_agents(
        make_profile("acme"), [Registration(f"https://a{n}.acme.example/mcp", "sales") for n in range(agents)]
    )
    first = Notice.objects.filter(listed=True).order_by("pk").first()
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        page = _feed(f"?after={first.pk}&limit=1000")
    # a type change and a registration per agent, all but the first on this page
    assert len(page["results"]) == 2 * agents - 1
    assert len(queries) == 2  # the expiry check and the page


def test_a_later_writer_waits_for_the_earlier_to_commit_so_no_reader_skips_an_id(transactional_db: None) -> None:
    """Without the order lock, a reader could see id N+1 committed while N is still in
    flight, resume after N+1, and never see N."""
    import threading

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer")
    first_wrote, let_first_commit = threading.Event(), threading.Event()
    done: list[str] = []

    def write(url: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                write_notices([Notice(kind=NoticeKind.REGISTERED, agent_url=url, member="acme")])
                if hold:
                    first_wrote.set()
                    assert let_first_commit.wait(10)
            done.append(url)
        finally:
            connection.close()

    make_profile("acme")
    first = threading.Thread(target=write, args=("https://first.example/mcp", True))
    first.start()
    assert first_wrote.wait(10)
    second = threading.Thread(target=write, args=("https://second.example/mcp", False))
    second.start()
    second.join(0.5)
    assert done == [] and second.is_alive()  # the second waits while the first is in flight
    assert _feed()["results"] == []  # and a reader sees neither yet
    let_first_commit.set()
    first.join(10)
    second.join(10)
    assert done == ["https://first.example/mcp", "https://second.example/mcp"]
    assert [e["agent_url"] for e in _feed()["results"]] == done  # ids in commit order


def test_updated_since_returns_what_changed_and_what_was_removed(owner: User) -> None:
    other = "https://agents.acme.example/other"
    _put(owner, agents=[{"url": URL, "declared_type": "sales"}, {"url": other, "declared_type": "signals"}])
    since = timezone.now()
    untouched = APIClient().get("/api/registry/agents", {"updated_since": since.isoformat()}).json()
    assert untouched["results"] == []
    _put(owner, agents=[{"url": URL, "declared_type": "creative"}])  # `other` unregistered
    changed = APIClient().get("/api/registry/agents", {"updated_since": since.isoformat()}).json()["results"]
    assert [(a["url"], a["removed"]) for a in changed] == [(URL, False), (other, True)]
    assert changed[0]["type"] == "creative" and changed[1] == {"url": other, "removed": True}
    _put(owner, is_public=False)
    hidden = APIClient().get("/api/registry/agents", {"updated_since": since.isoformat()}).json()["results"]
    assert hidden == [{"url": URL, "removed": True}, {"url": other, "removed": True}]
    bad = APIClient().get("/api/registry/agents", {"updated_since": "yesterday"})
    assert bad.status_code == 400 and "not an ISO 8601 time" in bad.json()["fields"]["updated_since"][0]
