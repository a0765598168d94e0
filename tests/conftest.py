import os
from collections.abc import Iterator

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

# The suite (and so CI) replays the same examples every run, so a red build means
# a change broke something; `HYPOTHESIS_PROFILE=explore` searches new ones.
hypothesis_settings.register_profile("suite", max_examples=300, derandomize=True)
hypothesis_settings.register_profile("explore", max_examples=20_000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture
def postgres_only(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run bin/test without DATABASE_URL=sqlite...)")


@pytest.fixture(scope="session")
def official_agents() -> Iterator[str]:
    """Base URL of agents served by the official mcp and a2a-sdk packages."""
    from crawler.demo_fleet import ServerThread
    from tests.servers import official_agents_app

    with ServerThread(official_agents_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def dialects() -> Iterator[str]:
    """Base URL of agents in every MCP dialect (tests.servers.dialects_app)."""
    from crawler.demo_fleet import ServerThread
    from tests.servers import dialects_app

    with ServerThread(dialects_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def hostile() -> Iterator[str]:
    from tests.servers import AiohttpServerThread, hostile_app

    with AiohttpServerThread(hostile_app()) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def demo_fleet() -> Iterator[str]:
    from crawler.demo_fleet import ServerThread, demo_fleet_app

    with ServerThread(demo_fleet_app()) as server:
        yield server.base_url


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="Save screenshots of the key pages the browser tests visit into DIR.",
    )
