"""History no role can erase: refuse TRUNCATE (row triggers do not fire on it), and let
the database, not the client, say when a row was written (a raw INSERT cannot back-date
one). Neither this nor 0002 can be migrated backwards: removing the guards would be
the one way to erase history through the app's own tooling.
"""

from django.db import migrations

from audit.history_guard import refuse_backwards

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_typereclassification_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_typereclassification is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_typereclassification_no_truncate
    BEFORE TRUNCATE ON audit_typereclassification
    FOR EACH STATEMENT EXECUTE FUNCTION audit_typereclassification_refuse_truncate();

CREATE OR REPLACE FUNCTION audit_typereclassification_stamp() RETURNS trigger AS $$
BEGIN
    NEW.changed_at := clock_timestamp();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_typereclassification_database_time
    BEFORE INSERT ON audit_typereclassification
    FOR EACH ROW EXECUTE FUNCTION audit_typereclassification_stamp();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)




class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(forward, refuse_backwards)]
