"""The listing's search (``?q=``): one answer whether a term is collected from the
trigram indexes (few matches) or walked in URL order (many), paged by the cursor."""

from typing import Any

import pytest
from django.test import Client

from registry import public
from tests.factories import make_agent, make_profile, register


@pytest.fixture
def agents(db: None) -> None:
    acme = make_profile("acme", display_name="Acme Media")
    zeta = make_profile("zeta", display_name="Zeta Signals")
    hidden = make_profile("hidden", display_name="Acme Hidden", is_public=False)
    for i in range(12):
        register(acme, make_agent(f"https://a{i:02}.acme.example/mcp"), "sales")
    register(zeta, make_agent("https://bid.zeta.example/mcp", name="Bidstream"), "signals")
    named = register(zeta, make_agent("https://z1.zeta.example/mcp"), "signals")
    named.display_name = "Outdoor Screens"
    named.save()
    register(hidden, make_agent("https://acme-secret.example/mcp"), "sales")
    make_agent("https://acme-unregistered.example/mcp")


def searched(client: Client, term: str, page_size: int = 5) -> list[str]:
    """Every URL the API lists for the term, following the next links."""
    urls: list[str] = []
    url: str | None = f"/api/registry/agents?q={term}&page_size={page_size}"
    while url:
        page = client.get(url).json()
        urls += [agent["url"] for agent in page["results"]]
        url = page["next"]
    return urls


ACME = [f"https://a{i:02}.acme.example/mcp" for i in range(12)]

CASES = [
    ("by the URL, any case", "A03.ACME", ["https://a03.acme.example/mcp"]),
    ("by the agent's name", "bidstr", ["https://bid.zeta.example/mcp"]),
    ("by the name its member registered", "outdoor scr", ["https://z1.zeta.example/mcp"]),
    ("by the member's name", "zeta sig", ["https://bid.zeta.example/mcp", "https://z1.zeta.example/mcp"]),
    ("a common term, in URL order, without private or unregistered agents", "acme", ACME),
    ("a term shorter than a trigram", "a1", ["https://a10.acme.example/mcp", "https://a11.acme.example/mcp"]),
    ("nothing", "nowhere", []),
    ("no trigram in it", "...", []),
]


@pytest.mark.parametrize("collect_limit", [1000, 3], ids=["collected", "walked"])
@pytest.mark.parametrize(("term", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_search_finds_the_same_agents_collected_or_walked(
    client: Client, agents: None, monkeypatch: Any, collect_limit: int, term: str, expected: list[str]
) -> None:
    monkeypatch.setattr(public, "SEARCH_COLLECT_LIMIT", collect_limit)
    assert searched(client, term) == expected


def test_a_search_page_takes_the_same_queries_collected_or_walked(
    client: Client, agents: None, monkeypatch: Any, django_assert_num_queries: Any
) -> None:
    # the collection, then the page
    with django_assert_num_queries(2):
        assert len(client.get("/api/registry/agents?q=acme").json()["results"]) == 12
    monkeypatch.setattr(public, "SEARCH_COLLECT_LIMIT", 3)
    with django_assert_num_queries(2):
        assert len(client.get("/api/registry/agents?q=acme").json()["results"]) == 12
