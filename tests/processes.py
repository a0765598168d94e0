"""Running manage.py in a separate process against the test database (for kill -9 tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def manage_py(*args: str, log: Path | None = None, **env: str) -> subprocess.Popen[bytes]:
    """Start ``manage.py <args>`` on the test's PostgreSQL database; ``env`` adds settings.

    Its stderr is a pipe, or the file ``log`` for a long-running process that
    would fill the pipe.
    """
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        **env,
    }
    command = [sys.executable, "manage.py", *args, "-v0"]
    stderr = log.open("ab") if log else subprocess.PIPE
    try:
        # Its own session, so that killing it reaches an RQ worker's forked work-horse too.
        return subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    finally:
        if log:
            stderr.close()  # type: ignore[union-attr]  # the child has its own descriptor


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def stop_process_group(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """Wait up to ``grace`` seconds for it to exit, then kill it and whatever it forked."""
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
