import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from pytest_django import DjangoAssertNumQueries

from audit.models import Source, TypeReclassification
from members.models import MemberAgent
from registry.models import Agent
from registry.types import AgentType
from tests.factories import feed_locks, make_agent, make_profile, make_snapshot, register


@pytest.mark.parametrize(
    "declared, inferred, published",
    [
        # 1. the probe inferred a known type: that type, whatever was declared
        ("buying", "sales", "sales"),
        ("creative", "signals", "signals"),
        ("sales", "sales", "sales"),
        # 2. the probe inferred nothing and the member declared buying: buying
        ("buying", None, "buying"),
        # 3. the probe inferred nothing and anything else was declared: unknown
        ("sales", None, "unknown"),
        ("creative", None, "unknown"),
        ("unknown", None, "unknown"),
    ],
)
def test_it_resolves_against_the_snapshot(db: None, declared: str, inferred: str | None, published: str) -> None:
    agent = make_agent()
    make_snapshot(agent, inferred)
    register(make_profile(), agent, declared)
    assert agent.type == published


@pytest.mark.parametrize("declared", ["sales", "creative", "signals", "buying"])
def test_without_a_snapshot_it_publishes_the_declared_type(db: None, declared: str) -> None:
    agent = make_agent()
    register(make_profile(), agent, declared)
    assert agent.type == declared


def test_a_snapshot_of_failed_probes_only_is_no_evidence(db: None) -> None:
    agent = make_agent()
    make_snapshot(agent, None, probed_at=None)
    agent.snapshot.probed_at = None
    agent.snapshot.error_kind = "timeout"
    agent.snapshot.save()
    register(make_profile(), agent, "sales")
    assert agent.type == "sales"


@pytest.mark.parametrize("legacy, stored", [("buyer", "buying"), ("seller", "sales")])
def test_it_reads_legacy_declared_types(db: None, legacy: str, stored: str) -> None:
    agent = make_agent()
    member_agent = register(make_profile(), agent, legacy)
    member_agent.refresh_from_db()
    assert member_agent.declared_type == stored
    assert agent.type == stored


def test_it_refuses_an_invalid_declared_type_and_writes_nothing(db: None) -> None:
    agent = make_agent()
    with pytest.raises(ValidationError, match="'publisher' is not an agent type"):
        register(make_profile(), agent, "publisher")
    assert not MemberAgent.objects.exists()
    assert not TypeReclassification.objects.exists()


def test_a_flip_writes_one_member_write_audit_row_with_the_actor(db: None) -> None:
    agent = make_agent()
    make_snapshot(agent, "sales", ["get_products"])
    register(make_profile("bidcliq"), agent, "buying", actor="alice")

    row = TypeReclassification.objects.get()
    assert (row.agent_url, row.member, row.old_type, row.new_type) == (agent.url, "bidcliq", "unknown", "sales")
    assert row.source == Source.MEMBER_WRITE
    assert row.actor == "alice"
    assert row.notes["declared_type"] == "buying"
    assert row.notes["inferred_type"] == "sales"
    assert row.notes["tool_names"] == ["get_products"]


def test_a_save_that_changes_nothing_writes_no_audit_row(db: None) -> None:
    agent = make_agent()
    member_agent = register(make_profile(), agent, "sales")
    assert TypeReclassification.objects.count() == 1
    member_agent.display_name = "Renamed"
    member_agent.save()
    assert TypeReclassification.objects.count() == 1


def test_changing_the_declared_type_re_resolves(db: None) -> None:
    agent = make_agent()
    member_agent = register(make_profile(), agent, "sales")
    member_agent.declared_type = "creative"
    member_agent.save(actor="bob")
    agent.refresh_from_db()
    assert agent.type == "creative"
    assert list(TypeReclassification.objects.values_list("old_type", "new_type", "actor")) == [
        ("sales", "creative", "bob"),
        ("unknown", "sales", ""),
    ]


def test_a_failing_audit_write_rolls_the_flip_back(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = make_agent()
    make_snapshot(agent, "sales")

    def broken_record_many(events: object) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr("registry.publish.record_many", broken_record_many)  # the single writer
    with pytest.raises(RuntimeError, match="audit table unavailable"):
        register(make_profile(), agent, "buying")
    agent.refresh_from_db()
    assert agent.type == AgentType.UNKNOWN
    assert not MemberAgent.objects.exists()


def test_queryset_update_of_the_declared_type_is_refused(db: None) -> None:
    register(make_profile(), make_agent(), "sales")
    with pytest.raises(TypeError, match="skip the resolve rules"):
        MemberAgent.objects.update(declared_type="creative")
    MemberAgent.objects.update(display_name="allowed")
    assert MemberAgent.objects.get().display_name == "allowed"


def test_bulk_create_is_refused(db: None) -> None:
    with pytest.raises(TypeError, match="register_agents"):
        MemberAgent.objects.bulk_create(
            [MemberAgent(profile=make_profile(), agent=make_agent(), declared_type="sales")]
        )


def test_loaded_fixtures_resolve_too(db: None, tmp_path: Path) -> None:
    profile = make_profile("fixture-member")
    agent = make_agent("https://fixture.example.com/mcp")
    make_snapshot(agent, "sales")
    fixture = tmp_path / "member_agents.json"
    row = {
        "model": "members.memberagent",
        "pk": 77,
        "fields": {
            "profile": profile.pk,
            "agent": agent.pk,
            "declared_type": "buying",
            "display_name": "",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
    }
    fixture.write_text(json.dumps([row]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert Agent.objects.get(pk=agent.pk).type == "sales"
    assert TypeReclassification.objects.get().actor == "loaddata"


def test_a_save_takes_one_lock_and_one_resolution_query(
    db: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    agent = make_agent()
    make_snapshot(agent, "sales")
    member_agent = MemberAgent(profile=make_profile(), agent=agent, declared_type="buying")
    # savepoint, lock, the profile's verified domains, insert, resolve, update agent,
    # insert audit row, whether its profile is public, the feed's order lock, insert
    # its outbox notice, then the registration's notice (the lock again, the insert), release
    with django_assert_num_queries(11 + feed_locks(2)):
        member_agent.save()
    # nothing to publish: savepoint, lock, verified domains, update, resolve, release
    with django_assert_num_queries(6):
        member_agent.save()
    assert member_agent.agent.type == "sales"
