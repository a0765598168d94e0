"""History no role can erase, on PostgreSQL: TRUNCATE, flush, backward migrations,
back-dated inserts, and the runtime role's privileges."""

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import Source, TypeEvent, TypeReclassification, record

RUNTIME_ROLE = "registry_runtime_suite"


def _row() -> TypeReclassification:
    with transaction.atomic():
        row = record(TypeEvent(agent_url="https://a.example.com/mcp", new_type="sales", source=Source.REPROBE))
    with connection.cursor() as cursor:  # settle the deferred foreign-key checks, as a committed row would be
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return row


def test_truncate_is_refused(postgres_only: None) -> None:
    row = _row()
    with pytest.raises(DatabaseError, match="TRUNCATE refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_typereclassification CASCADE")  # past the outbox's foreign key
    assert TypeReclassification.objects.filter(pk=row.pk).exists()


def test_flush_leaves_history(postgres_only: None, production_flush: None) -> None:
    row = _row()
    with pytest.raises(Exception, match="couldn't be flushed") as refused, transaction.atomic():
        call_command("flush", interactive=False, verbosity=0)
    assert "TRUNCATE refused" in str(refused.value.__cause__)
    assert TypeReclassification.objects.filter(pk=row.pk).exists()


def test_a_raw_insert_cannot_back_date_a_row(postgres_only: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_typereclassification (agent_url, new_type, source, actor, changed_at, notes) "
            "VALUES ('https://x.example.com/mcp', 'sales', 'reprobe', '', %s, '{}') RETURNING changed_at",
            [timezone.now() - timedelta(days=365)],
        )
        [(stored,)] = cursor.fetchall()
    assert abs((stored - timezone.now()).total_seconds()) < 60


@pytest.mark.parametrize("target", ["0001", "0002"])
def test_the_guards_cannot_be_migrated_away(postgres_only: None, target: str) -> None:
    row = _row()
    with pytest.raises(RuntimeError, match="cannot be migrated away"):
        call_command("migrate", "audit", target, verbosity=0)
    # the guards are all still there
    for statement in ["DELETE FROM audit_typereclassification", "TRUNCATE audit_typereclassification CASCADE"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert TypeReclassification.objects.filter(pk=row.pk).exists()


@pytest.fixture
def runtime_role(transactional_db: None, postgres_only: None) -> Iterator[psycopg.Connection]:
    call_command("create_db_roles", RUNTIME_ROLE, verbosity=0)
    settings = connection.settings_dict
    session = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=RUNTIME_ROLE,
        autocommit=True,
    )
    try:
        yield session
    finally:
        session.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {RUNTIME_ROLE}")
            cursor.execute(f"DROP ROLE {RUNTIME_ROLE}")


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE audit_typereclassification",
        "DELETE FROM audit_typereclassification",
        "UPDATE audit_typereclassification SET new_type = 'creative'",
        "ALTER TABLE audit_typereclassification DISABLE TRIGGER ALL",
        "ALTER TABLE audit_typereclassification DISABLE TRIGGER audit_typereclassification_append_only",
        "DROP TABLE audit_typereclassification",
        "DELETE FROM crawler_credentialchange",
    ],
)
def test_the_runtime_role_cannot_erase_history(runtime_role: psycopg.Connection, statement: str) -> None:
    _row()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        runtime_role.execute(statement)
    assert TypeReclassification.objects.count() == 1


def test_the_runtime_role_records_and_reads_history(runtime_role: psycopg.Connection) -> None:
    runtime_role.execute(
        "INSERT INTO audit_typereclassification (agent_url, new_type, source, actor, changed_at, notes) "
        "VALUES ('https://x.example.com/mcp', 'sales', 'reprobe', 'worker', now(), '{}')"
    )
    [(count,)] = runtime_role.execute("SELECT count(*) FROM audit_typereclassification").fetchall()
    assert count == 1
    # and it still works the registry's mutable tables
    runtime_role.execute("UPDATE registry_agent SET name = name")
