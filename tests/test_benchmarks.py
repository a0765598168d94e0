"""Every benchmark command in the README runs as written, at a tiny size, in a clean environment.

The README's own flags are kept and the tiny sizes appended (argparse keeps the
last value), so a command that stops working as documented fails here.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
README_COMMAND = re.compile(r"^(\.venv/bin/python -m bench\.(\w+)[^#\n]*)", re.MULTILINE)

# Per benchmark: the sizes that keep it to seconds, and a figure it must print.
TINY = {
    "crawl": ("--agents 120 --latency 0.01 --deadline 1 --upstream-agents 0", r"\d+ probed, \d+ promoted"),
    "backfill": ("--agents 300 --stale 0.1", r"real run \(whole command\): [\d.]+ s"),
    "api_load": ("--agents 300 --clients 4 --seconds 2 --workers 1", r"\d+ requests, \d+ requests/s"),
    "probe_history": (
        "--agents 200 --days 2 --crawl 100",
        r"detail endpoint: [0-3] queries.*\n.*policy writes.*\n.*roll up and prune the day past 30: [\d,]+ raw rows",
    ),
    "crawl_workers": (
        "--agents 60 --workers 2 --chunk 20 --latency 0.01",
        r"agents probed twice: 0; missed: 0; promoted in the database: 60",
    ),
}


def readme_benchmarks() -> list[tuple[str, str]]:
    return [(m.group(1).strip(), m.group(2)) for m in README_COMMAND.finditer((ROOT / "README.md").read_text())]


def bench_databases() -> set[str]:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres") as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'registry_bench%'").fetchall()
    return {name for (name,) in rows}


def test_every_readme_benchmark_has_a_tiny_run() -> None:
    named = {module for _, module in readme_benchmarks()}
    assert named, "the README shows no benchmark command"
    assert named == set(TINY)


@pytest.mark.postgres
@pytest.mark.parametrize("command,module", readme_benchmarks())
def test_benchmark_runs_as_the_readme_shows_and_leaves_no_database(command: str, module: str) -> None:
    before = bench_databases()
    tiny, figure = TINY[module]
    # A new terminal: no virtualenv, no settings, nothing of the suite's environment.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    completed = subprocess.run(
        [*shlex.split(command), *shlex.split(tiny)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(figure, completed.stdout), completed.stdout
    assert bench_databases() == before
