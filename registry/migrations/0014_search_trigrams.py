"""Trigram indexes for the listing's search (``?q=``): on PostgreSQL, ``icontains`` is
``UPPER(column) LIKE UPPER('%term%')``, which these GIN indexes answer without reading
every row. SQLite keeps working without them."""

from typing import Any

from django.db import migrations

INDEXES = [
    ("registry_agent_url_trgm", "registry_agent", "url"),
    ("registry_agent_name_trgm", "registry_agent", "name"),
    ("members_memberagent_display_name_trgm", "members_memberagent", "display_name"),
    ("members_memberprofile_display_name_trgm", "members_memberprofile", "display_name"),
]


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0013_type_count_days"),
        ("members", "0010_list_notices_of_public_profiles"),
    ]

    operations = [migrations.RunPython(create, drop)]
