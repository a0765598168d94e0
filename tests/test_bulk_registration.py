from typing import Any

import pytest
from django.core.exceptions import ValidationError

from audit.models import TypeReclassification
from members.models import MemberAgent
from members.registration import Registration, register_agents
from registry.models import Agent
from tests.factories import feed_locks, make_agent, make_profile, make_snapshot, register


def _fleet(n: int, prefix: str) -> list[Registration]:
    # A mix of new agents, agents with snapshots and the buying carve-out.
    return [
        Registration(f"https://{prefix}-{i}.example.com/mcp", ("buying", "sales", "seller")[i % 3]) for i in range(n)
    ]


def _snapshots_for(registrations: list[Registration]) -> None:
    for i, r in enumerate(registrations[::2]):
        make_snapshot(make_agent(r.url), "sales" if i % 2 else None)


@pytest.mark.parametrize("size", [3, 40])
def test_it_resolves_many_agents_with_a_constant_number_of_queries(
    db: None, django_assert_num_queries: Any, size: int
) -> None:
    profile = make_profile()
    registrations = _fleet(size, f"n{size}")
    _snapshots_for(registrations)
    # select agents, insert new agents, select registrations, select snapshots,
    # the profile's verified domains, insert registrations, update changed agents,
    # insert audit rows (+ savepoint), the listed profiles, the feed's order lock, the
    # outbox insert; the registrations' notices: the lock (again) and their insert
    with django_assert_num_queries(13 + feed_locks(2)):
        register_agents(profile, registrations, actor="importer")
    assert MemberAgent.objects.count() == size
    # Every agent that left ``unknown`` did so with its audit row, and only those.
    assert (
        TypeReclassification.objects.filter(actor="importer").count() == Agent.objects.exclude(type="unknown").count()
    )


def test_it_applies_the_same_rules_as_save(db: None) -> None:
    profile = make_profile()
    inferred_sales, inferred_nothing, fresh = (make_agent() for _ in range(3))
    make_snapshot(inferred_sales, "sales")
    make_snapshot(inferred_nothing, None)
    register_agents(
        profile,
        [
            Registration(inferred_sales.url, "buyer"),
            Registration(inferred_nothing.url, "sales"),
            Registration(fresh.url, "creative"),
        ],
    )
    types = dict(Agent.objects.values_list("url", "type"))
    assert types == {inferred_sales.url: "sales", inferred_nothing.url: "unknown", fresh.url: "creative"}


def test_it_refuses_urls_of_another_member_and_writes_nothing(db: None) -> None:
    taken = make_agent("https://taken.example.com/mcp")
    register(make_profile("owner"), taken, "sales")
    before = TypeReclassification.objects.count()
    with pytest.raises(ValidationError) as exc:
        register_agents(
            make_profile("other"),
            [
                Registration("https://new.example.com/mcp", "sales"),
                Registration("HTTPS://TAKEN.example.com/mcp/", "sales"),
            ],
        )
    assert exc.value.message_dict == {"agents": ["https://taken.example.com/mcp cannot be registered by this profile."]}
    assert not Agent.objects.filter(url="https://new.example.com/mcp").exists()
    assert TypeReclassification.objects.count() == before


def test_it_reports_every_bad_entry_by_position(db: None) -> None:
    with pytest.raises(ValidationError) as exc:
        register_agents(
            make_profile(),
            [
                Registration("https://ok.example.com/mcp", "sales"),
                Registration("ftp://bad.example.com", "sales"),
                Registration("https://ok2.example.com/mcp", "publisher"),
                Registration("https://OK.example.com/mcp/", "sales"),
            ],
        )
    errors = exc.value.message_dict
    assert set(errors) == {"agents[1]", "agents[2]", "agents[3]"}
    assert "is listed twice" in errors["agents[3]"][0]
    assert not Agent.objects.exists()


def test_re_registering_updates_the_declaration_and_re_resolves(db: None) -> None:
    profile = make_profile()
    register_agents(profile, [Registration("https://a.example.com/mcp", "sales")])
    register_agents(profile, [Registration("https://a.example.com/mcp", "signals", "Renamed")])
    member_agent = MemberAgent.objects.select_related("agent").get()
    assert (member_agent.declared_type, member_agent.display_name, member_agent.agent.type) == (
        "signals",
        "Renamed",
        "signals",
    )
    assert TypeReclassification.objects.count() == 2
