"""The probe against agents served by the official mcp and a2a-sdk packages."""

from probe import ProbeLimits, run_probes
from tests.probing import LOOPBACK_ONLY, probe
from tests.servers import PAGES, SALES_TOOLS


def test_it_lists_tools_from_json_replies(official_agents: str) -> None:
    result = probe(f"{official_agents}/json/mcp")
    assert result.ok, result.error_message
    assert result.tool_names == SALES_TOOLS
    # What a reviewer needs of each tool, never the whole input schema (bounded storage).
    assert result.tools[0] == {"name": "get_products", "description": "Demo implementation of get_products."}


def test_it_lists_tools_from_sse_replies(official_agents: str) -> None:
    result = probe(f"{official_agents}/sse/mcp")
    assert result.ok, result.error_message
    assert result.tool_names == ["get_signals", "ping"]


def test_it_follows_next_cursor_through_every_page(official_agents: str) -> None:
    result = probe(f"{official_agents}/paged/mcp")
    assert result.ok, result.error_message
    assert result.tool_names == [name for page in PAGES for name in page]


def test_it_stops_at_the_page_limit(official_agents: str) -> None:
    result = probe(f"{official_agents}/paged/mcp", max_pages=2)
    assert result.tool_names == PAGES[0] + PAGES[1]


def test_it_reads_the_a2a_agent_card_skills(official_agents: str) -> None:
    result = probe(f"{official_agents}/card", "a2a")
    assert result.ok, result.error_message
    assert result.tool_names == ["get_products"]


def test_it_falls_back_to_the_legacy_agent_json(official_agents: str) -> None:
    result = probe(f"{official_agents}/legacy", "a2a")
    assert result.ok, result.error_message
    assert result.tool_names == ["build_creative"]


def test_it_accepts_the_card_url_itself(official_agents: str) -> None:
    result = probe(f"{official_agents}/card/.well-known/agent-card.json", "a2a")
    assert result.tool_names == ["get_products"]


def test_an_a2a_agent_without_a_card_is_an_http_error(official_agents: str) -> None:
    result = probe(f"{official_agents}/nowhere", "a2a")
    assert (result.error_kind, result.error_message) == ("http_status", "HTTP 404 Not Found")


def test_many_probes_share_one_session_and_keep_their_order(official_agents: str) -> None:
    targets = [(f"{official_agents}/json/mcp", "mcp"), (f"{official_agents}/card", "a2a")] * 20
    results = run_probes(targets, ProbeLimits(deadline=10, concurrency=8, address_policy=LOOPBACK_ONLY))
    assert [r.tool_names for r in results] == [SALES_TOOLS, ["get_products"]] * 20
