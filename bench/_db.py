"""Benchmarks run against their own PostgreSQL database, created and migrated here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/registry_bench"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["REDIS_URL"] = ""  # benchmarks crawl inline
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def empty_registry() -> None:
    from django.db import connection

    tables = [
        "members_memberagent",
        "members_memberprofile_owners",
        "members_memberprofile",
        "registry_capabilitysnapshot",
        "registry_agent",
        "audit_typereclassification",
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE is how a benchmark resets the audit table: UPDATE/DELETE are refused.
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
