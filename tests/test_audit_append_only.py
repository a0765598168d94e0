import pytest
from django.db import DatabaseError, connection, transaction
from pytest_django import DjangoAssertNumQueries

from audit.models import AppendOnlyError, Source, TypeEvent, TypeReclassification, record, record_many
from tests.factories import feed_locks


def _row() -> TypeReclassification:
    with transaction.atomic():
        return record(
            TypeEvent(
                agent_url="https://a.example.com/mcp",
                old_type="buying",
                new_type="sales",
                source=Source.BACKFILL_SCRIPT,
            )
        )


def _unchanged(row: TypeReclassification) -> None:
    stored = TypeReclassification.objects.get(pk=row.pk)
    assert (stored.old_type, stored.new_type, stored.source) == ("buying", "sales", "backfill_script")


def test_it_records_inside_a_transaction_only(db: None) -> None:
    # pytest-django wraps each test in a transaction; step outside it to check.
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        transaction.get_connection().in_atomic_block = False
        try:
            record(TypeEvent(agent_url="https://a.example.com/mcp", new_type="sales", source=Source.REPROBE))
        finally:
            transaction.get_connection().in_atomic_block = True


def test_it_refuses_an_unknown_source(db: None) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="source"), transaction.atomic():
        record(TypeEvent(agent_url="https://a.example.com/mcp", new_type="sales", source="manual_fix"))


def test_saving_an_existing_row_is_refused(db: None) -> None:
    row = _row()
    row.new_type = "creative"
    with pytest.raises(AppendOnlyError):
        row.save()
    _unchanged(row)


def test_deleting_a_row_is_refused(db: None) -> None:
    row = _row()
    with pytest.raises(AppendOnlyError):
        row.delete()
    _unchanged(row)


def test_queryset_update_and_delete_are_refused(db: None) -> None:
    row = _row()
    with pytest.raises(AppendOnlyError):
        TypeReclassification.objects.filter(pk=row.pk).update(new_type="creative")
    with pytest.raises(AppendOnlyError):
        TypeReclassification.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        TypeReclassification.objects.bulk_update([row], ["new_type"])
    _unchanged(row)


def test_bulk_create_outside_the_entry_point_is_refused(db: None) -> None:
    with pytest.raises(RuntimeError, match="single entry point"):
        TypeReclassification.objects.bulk_create(
            [TypeReclassification(agent_url="x", new_type="sales", source="reprobe")]
        )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_typereclassification SET new_type = 'creative'",
        "DELETE FROM audit_typereclassification",
    ],
)
def test_raw_sql_update_and_delete_are_refused_by_postgresql(postgres_only: None, sql: str) -> None:
    row = _row()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    _unchanged(row)


def test_raw_sql_update_is_refused_on_any_database(db: None) -> None:
    row = _row()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE audit_typereclassification SET new_type = 'creative'")
    _unchanged(row)


def test_record_many_writes_rows_and_their_notices_in_one_insert_each(
    db: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    from audit.models import Notice

    events = [
        TypeEvent(agent_url=f"https://{i}.example.com", new_type="sales", source=Source.REPROBE) for i in range(50)
    ]
    with transaction.atomic():
        # the audit rows, the feed's order lock, their outbox notices (no member: no profile to ask about)
        with django_assert_num_queries(2 + feed_locks(1)):
            record_many(events)
    assert TypeReclassification.objects.count() == 50
    assert Notice.objects.filter(kind="reprobed", audit_row__isnull=False).count() == 50
