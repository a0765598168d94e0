"""Running manage.py in a separate process against the test database (for kill -9 tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def manage_py(*args: str, **env: str) -> subprocess.Popen[bytes]:
    """Start ``manage.py <args>`` on the test's PostgreSQL database; ``env`` adds settings."""
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        **env,
    }
    command = [sys.executable, "manage.py", *args, "-v0"]
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
