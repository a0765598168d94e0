"""Every command line the README shows works as written in a new terminal after the setup step.

A copy of the repository (its tracked files, sharing this virtualenv) is set up with
``bin/setup``, as ``bin/run`` does; then each ``.venv/bin/python manage.py ...``
line of the README runs there in an environment holding nothing but PATH and HOME,
its placeholders filled with the examples below. Long-running commands (the demo
fleet, the workers, the scheduler, the deliveries' loop) must still be running, or
have ended cleanly, after a few seconds. The benchmarks have their own test.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
COMMAND = re.compile(r"((?:[A-Z_]+=\S+ )*\.venv/bin/python manage\.py [^`#\n]*)")
# The placeholders the README uses, each filled as the README's own example says.
EXAMPLES = {
    "<url>": "http://127.0.0.1:8765/bidcliq/mcp",
    "<redis-url>": "redis://127.0.0.1:6379/15",  # the suite's Redis database, not the README's /0
    "<role>": "registry_app",
    "<name>": "admin",
}
LONG_RUNNING = ("serve_demo_agents", "rqworker", "rqcron", "deliver_notifications --every")
POSTGRES_ONLY = ("create_db_roles",)


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    # Inline commands may wrap inside their backticks: join those lines first.
    text = re.sub(r"`\.venv/bin/python\n\s*manage\.py", "`.venv/bin/python manage.py", text)
    commands = [" ".join(match.group(1).split()) for match in COMMAND.finditer(text)]
    return list(dict.fromkeys(commands))


def filled(command: str) -> str:
    for placeholder, example in EXAMPLES.items():
        command = command.replace(placeholder, example)
    return command


def test_every_placeholder_has_its_example_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text()
    used = {p for command in readme_commands() for p in re.findall(r"<[a-z-]+>", command)}
    assert used and used <= set(EXAMPLES)
    for placeholder in used - {"<redis-url>"}:
        assert EXAMPLES[placeholder] in text, f"the README gives no example of {placeholder}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the repository after ``bin/setup``, as a new user's would be."""
    copy = tmp_path_factory.mktemp("readme") / "registry"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["bash", "bin/setup"], cwd=copy, env=_fresh_env(), check=True, capture_output=True)
    assert (copy / ".env").exists()
    yield copy


def _fresh_env(**extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", **extra}


def _postgres_database(name: str) -> str:
    server = "postgres://postgres@127.0.0.1:5432"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_the_readme_shows_the_commands_operators_need() -> None:
    commands = readme_commands()
    for needed in ("crawl_agents", "backfill_member_agent_types", "reprobe_unknown_agents", "rqworker"):
        assert any(needed in command for command in commands), needed


@pytest.mark.postgres
@pytest.mark.parametrize("command", readme_commands())
def test_a_readme_command_works_as_written_after_the_setup(workspace: Path, command: str) -> None:
    line = filled(command)
    env = _fresh_env()
    if any(name in line for name in POSTGRES_ONLY):
        # Run as the owner of a PostgreSQL database, as the README says; the setup migrates it.
        env["DATABASE_URL"] = _postgres_database("registry_readme")
        subprocess.run(
            [".venv/bin/python", "manage.py", "migrate", "-v0"], cwd=workspace, env=env, check=True, timeout=120
        )
    if any(name in line for name in LONG_RUNNING):
        _runs_until_stopped(workspace, line, env)
    elif "backfill_member_agent_types" in line and "--dry-run" not in line and "--no-input" not in line:
        _answered_at_a_terminal(workspace, line, env, answer="yes")
    else:
        done = subprocess.run(["bash", "-c", line], cwd=workspace, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr


def _runs_until_stopped(workspace: Path, line: str, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        ["bash", "-c", line],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(4)
        still_running = process.poll() is None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert still_running or process.returncode == 0, f"{line}\n{err}"
    assert "Traceback" not in err, err


def _answered_at_a_terminal(workspace: Path, line: str, env: dict[str, str], *, answer: str) -> None:
    """An interactive command, at a terminal, given its answer."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        ["bash", "-c", line], cwd=workspace, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    os.write(leader, f"{answer}\n".encode())
    output = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
    assert process.wait(timeout=120) == 0, f"{line}\n{output.decode(errors='replace')}"


@pytest.mark.postgres
def test_bin_run_logs_each_request_once_and_stops_without_a_traceback(workspace: Path) -> None:
    import urllib.error
    import urllib.request

    port, fleet = free_port(), free_port()
    process = subprocess.Popen(
        ["bash", "bin/run"],
        cwd=workspace,
        env=_fresh_env(PORT=str(port), FLEET_PORT=str(fleet)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        give_up = time.monotonic() + 180
        while time.monotonic() < give_up:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/registry/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        for path in ("/no-such-page-here", "/api/schema"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30).close()
            except urllib.error.HTTPError as answer:
                assert answer.code == 404
        time.sleep(1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        log, _ = process.communicate(timeout=30)
    assert log.count("/no-such-page-here") == 1, log
    assert log.count("GET /api/schema") == 1, log
    for noise in (
        "Traceback",
        "CancelledError",
        "unable to guess",
        "Warning:",
        "AXES: BEGIN",
        "imported automatically",
    ):
        assert noise not in log, f"{noise!r} in bin/run's log:\n{log}"
    assert log.count("Watching for file changes") <= 1, log
    assert f"See your profile: http://127.0.0.1:{port}/api/me/member-profile" in log  # the demo's emails link here
