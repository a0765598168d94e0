"""Each benchmark runs in a PostgreSQL database of its own: created and migrated when
it starts, dropped when it ends, so no run depends on what an earlier one left and
no run has to erase audit history (which the guards rightly refuse).

PostgreSQL (and Redis, for the benchmark that runs RQ workers) are started with
``bin/services.sh`` when they do not answer on 127.0.0.1, as ``bin/test`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = "postgres://postgres@127.0.0.1:5432"


def _ensure_services(*services: str) -> None:
    subprocess.run(["bash", str(ROOT / "bin" / "services.sh"), *services], cwd=ROOT, check=True)


@contextmanager
def fresh_database(*, redis: bool = False) -> Iterator[str]:
    """Create, migrate and finally drop this run's own database; Django is set up on it."""
    _ensure_services("postgres", *(["redis"] if redis else []))
    import psycopg

    name = f"registry_bench_{os.getpid()}"
    sys.path.insert(0, str(ROOT))
    # Child processes (gunicorn, rqworker, manage.py) inherit the same database.
    os.environ["DATABASE_URL"] = f"{SERVER_URL}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    os.environ["REDIS_URL"] = ""  # benchmarks crawl inline unless they say otherwise
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        # Migrated in a child process: a fresh database's migration peaks at about
        # 100 MiB, which would hide what the benchmark itself costs.
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
        import django

        django.setup()
        yield name
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
