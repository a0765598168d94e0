import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.postgresql.operations import DatabaseOperations
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from tests.nameserver import NameServer

# The suite (and so CI) replays the same examples every run, so a red build means
# a change broke something; `HYPOTHESIS_PROFILE=explore` searches new ones.
hypothesis_settings.register_profile("suite", max_examples=300, derandomize=True)
hypothesis_settings.register_profile("explore", max_examples=20_000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


AUDIT_TRUNCATE_GUARD = "audit_typereclassification_no_truncate"
_production_flush = DatabaseOperations.execute_sql_flush


def _flush_lifting_the_audit_guard(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
    statements = list(sql_list)
    guard = f"audit_typereclassification {{}} TRIGGER {AUDIT_TRUNCATE_GUARD}"
    if any("audit_typereclassification" in sql for sql in statements):
        statements = [f"ALTER TABLE {guard.format('DISABLE')}", *statements, f"ALTER TABLE {guard.format('ENABLE')}"]
    _production_flush(self, statements)


@pytest.fixture(scope="session", autouse=True)
def the_suite_may_empty_the_audit_table() -> Iterator[None]:
    """The suite empties every table between transactional tests (Django's flush, a
    TRUNCATE on PostgreSQL), which the audit table's guard refuses. Here, and only
    here, the guard is lifted around exactly that flush, as the owner of the test
    database; no setting can do this in production, where the app's role owns nothing."""
    DatabaseOperations.execute_sql_flush = _flush_lifting_the_audit_guard  # type: ignore[method-assign]  # the suite's flush only
    yield
    DatabaseOperations.execute_sql_flush = _production_flush  # type: ignore[method-assign]  # restored


@pytest.fixture
def production_flush() -> Iterator[None]:
    """Flush as production does, with the audit table's guard in place."""
    DatabaseOperations.execute_sql_flush = _production_flush  # type: ignore[method-assign]  # for this test
    yield
    DatabaseOperations.execute_sql_flush = _flush_lifting_the_audit_guard  # type: ignore[method-assign]  # the suite's again


@pytest.fixture
def postgres_only(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run bin/test without DATABASE_URL=sqlite...)")


@pytest.fixture(scope="session")
def official_agents() -> Iterator[str]:
    """Base URL of agents served by the official mcp and a2a-sdk packages."""
    from tests.servers import ServerThread, official_agents_app

    with ServerThread(official_agents_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def dialects() -> Iterator[str]:
    """Base URL of agents in every MCP dialect (tests.servers.dialects_app)."""
    from tests.servers import ServerThread, dialects_app

    with ServerThread(dialects_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def typescript_agents() -> Iterator[str]:
    """Base URL of agents served by the TypeScript SDKs under Node (tests/node/agents.mjs;
    bin/test installs its pinned packages)."""
    node = Path(__file__).parent / "node"
    if not (node / "node_modules").is_dir():
        pytest.fail("tests/node/node_modules is missing: run bin/test, which installs it with npm ci")
    with subprocess.Popen(
        ["node", "agents.mjs"], cwd=node, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), f"the Node agents did not start (exit code {server.poll()})"
        yield f"http://127.0.0.1:{port}"
        server.stdin.close()  # the server exits when its stdin ends
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def name_server() -> Iterator["NameServer"]:
    """A name server on 127.0.0.1 whose zone a test sets (cleared by ``zone``)."""
    from tests.nameserver import NameServer

    server = NameServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def hostile() -> Iterator[str]:
    from tests.servers import AiohttpServerThread, hostile_app

    with AiohttpServerThread(hostile_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def demo_fleet() -> Iterator[str]:
    from demo.fleet import demo_fleet_app
    from tests.servers import ServerThread

    with ServerThread(demo_fleet_app()) as server:
        yield server.base_url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="Save screenshots of the key pages the browser tests visit into DIR.",
    )
