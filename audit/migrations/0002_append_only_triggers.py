"""Refuse UPDATE and DELETE on the audit table in the database itself.

PostgreSQL refuses both (and row-level triggers cover raw SQL, not just the ORM).
SQLite refuses UPDATE; DELETE stays allowed there only because Django's test
flush empties tables with DELETE on SQLite (PostgreSQL uses TRUNCATE).
"""

from django.db import migrations

from audit.history_guard import refuse_backwards

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_typereclassification_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_typereclassification is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_typereclassification_append_only
    BEFORE UPDATE OR DELETE ON audit_typereclassification
    FOR EACH ROW EXECUTE FUNCTION audit_typereclassification_refuse_change();
"""
SQLITE_FORWARD = """
CREATE TRIGGER audit_typereclassification_no_update
BEFORE UPDATE ON audit_typereclassification
BEGIN
    SELECT RAISE(ABORT, 'audit_typereclassification is append-only: UPDATE refused');
END;
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD, params=None)




class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forward, refuse_backwards)]
