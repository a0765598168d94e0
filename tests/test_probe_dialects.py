"""Every dialect real agents speak, served by the official mcp and a2a-sdk packages on
127.0.0.1: each is classified by a crawl, its route recorded, and the next crawl goes
straight there."""

import pytest

from crawler.jobs import crawl_chunk
from probe import ProbeLimits, ProbeTarget, Route, run_probes
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent
from tests.probing import LOOPBACK_ONLY
from tests.servers import DIALECT_REQUESTS

MODERN = "2026-07-28"

# path -> (protocol, type, transport, protocol version, endpoint path, decided by)
CASES = {
    "/stateful/mcp": ("mcp", "sales", "streamable_http", MODERN, "/stateful/mcp", "tools"),
    "/stateless/mcp": ("mcp", "sales", "streamable_http", MODERN, "/stateless/mcp", "tools"),
    "/modern-only/mcp": ("mcp", "sales", "streamable_http", MODERN, "/modern-only/mcp", "tools"),
    "/legacy/sse": ("mcp", "signals", "sse", "2025-06-18", "/legacy/sse", "tools"),
    # Express answers 404 "Cannot POST" where the official server answers 405.
    "/express/sse": ("mcp", "signals", "sse", "2025-06-18", "/express/sse", "tools"),
    "": ("mcp", "creative", "streamable_http", MODERN, "/mcp", "tools"),  # a bare origin
    "/handshake/-32600/mcp": ("mcp", "sales", "streamable_http", "2025-06-18", "/handshake/-32600/mcp", "tools"),
    "/handshake/-32000/mcp": ("mcp", "sales", "streamable_http", "2025-06-18", "/handshake/-32000/mcp", "tools"),
    "/handshake/-32601/mcp": ("mcp", "sales", "streamable_http", "2025-06-18", "/handshake/-32601/mcp", "tools"),
    "/governance/mcp": ("mcp", "governance", "streamable_http", MODERN, "/governance/mcp", "declaration"),
    "/brand/mcp": ("mcp", "brand", "streamable_http", MODERN, "/brand/mcp", "declaration"),
    "/measurement/mcp": ("mcp", "measurement", "streamable_http", MODERN, "/measurement/mcp", "declaration"),
    "/adcp3-sales/mcp": ("mcp", "sales", "streamable_http", MODERN, "/adcp3-sales/mcp", "declaration"),
    "/card": ("a2a", "sales", "a2a", "", "/card/.well-known/agent-card.json", "tools"),
    # The card's AdCP extension declares media_buy: the same table as an MCP agent's declaration.
    "/adcp-card": ("a2a", "sales", "a2a", "", "/adcp-card/.well-known/agent-card.json", "declaration"),
    # Registered at the JSON-RPC URL its card names: the card is at the origin.
    "/a2a/jsonrpc": ("a2a", "sales", "a2a", "", "/.well-known/agent-card.json", "tools"),
}


@pytest.fixture
def fleet(db: None, dialects: str) -> dict[str, Agent]:
    return {path: make_agent(dialects + path, protocol=protocol) for path, (protocol, *_) in CASES.items()}


def test_a_crawl_classifies_every_dialect_and_records_its_route(fleet: dict[str, Agent], dialects: str) -> None:
    summary = crawl_chunk([a.pk for a in fleet.values()], deadline=5.0)
    assert summary["failed"] == {}, summary
    found = {
        path: (
            agent.type,
            snapshot.transport,
            snapshot.protocol_version,
            snapshot.endpoint.removeprefix(dialects),
            snapshot.inferred_by,
        )
        for path, agent in fleet.items()
        for agent in [Agent.objects.get(pk=agent.pk)]
        for snapshot in [CapabilitySnapshot.objects.get(agent=agent)]
    }
    assert found == {path: tuple(case[1:]) for path, case in CASES.items()}


def test_an_adcp3_declaration_is_recorded_and_shown_as_evidence(fleet: dict[str, Agent]) -> None:
    crawl_chunk([fleet["/adcp3-sales/mcp"].pk], deadline=5.0)
    snapshot = CapabilitySnapshot.objects.get(agent=fleet["/adcp3-sales/mcp"])
    assert snapshot.adcp_protocols == ["creative", "media_buy"]
    assert snapshot.adcp_versions == "3"
    assert snapshot.inferred_from == ["supported_protocols: media_buy"]


def test_the_next_crawl_goes_straight_to_the_remembered_route(fleet: dict[str, Agent], dialects: str) -> None:
    ids = [a.pk for a in fleet.values()]
    crawl_chunk(ids, deadline=5.0)
    DIALECT_REQUESTS.clear()
    summary = crawl_chunk(ids, deadline=5.0)
    assert summary["failed"] == {}
    requests = dict(DIALECT_REQUESTS)
    # a modern server: one request for its tools, no discovery, no path probing
    assert requests.get(("/stateless/mcp", "tools/list")) == 1
    assert ("/stateless/mcp", "server/discover") not in requests
    assert ("/", "server/discover") not in requests and requests.get(("/mcp", "tools/list")) == 1
    # a handshake-only server: the handshake again, but no refused modern request first
    assert ("/handshake/-32600/mcp", "initialize") in requests
    assert ("/handshake/-32600/mcp", "server/discover") not in requests
    # an AdCP 3 agent: its tools and its declaration, two requests in all
    assert {k: v for k, v in requests.items() if k[0] == "/governance/mcp"} == {
        ("/governance/mcp", "tools/list"): 1,
        ("/governance/mcp", "tools/call"): 1,
    }
    # A2A: the card that answered, first
    assert requests.get(("/card/.well-known/agent-card.json", "GET")) == 1


def test_a_remembered_route_that_stopped_answering_is_renegotiated(dialects: str) -> None:
    gone = Route("streamable_http", MODERN, dialects + "/no-longer-here/mcp")
    limits = ProbeLimits(deadline=5, address_policy=LOOPBACK_ONLY)
    [result] = run_probes([ProbeTarget(dialects + "/stateless/mcp", "mcp", route=gone)], limits)
    assert result.ok, result.error_message
    assert (result.endpoint, result.tool_names) == (dialects + "/stateless/mcp", ["get_products", "create_media_buy"])


def test_an_sse_endpoint_event_naming_another_origin_is_refused() -> None:
    from probe.mcp import SseSession

    session = SseSession(http=None, sse_url="http://127.0.0.1:9/legacy/sse")  # type: ignore[arg-type]  # no request is made
    assert (
        session._checked_endpoint("/legacy/messages/?session_id=1")
        == "http://127.0.0.1:9/legacy/messages/?session_id=1"
    )
    with pytest.raises(Exception, match="another origin"):
        session._checked_endpoint("http://169.254.169.254/latest/meta-data")


def _waves(arrivals: list[tuple[str, float]], round_trip: float) -> list[set[str]]:
    """Requests grouped by when they arrived: a new wave starts a round trip after the last."""
    waves: list[set[str]] = []
    wave_start = float("-inf")
    for method, at in sorted(arrivals, key=lambda arrival: arrival[1]):
        if at - wave_start >= round_trip / 2:
            waves.append(set())
            wave_start = at
        waves[-1].add(method)
    return waves


def test_a_handshake_era_agent_is_probed_in_two_sequential_round_trips(hostile: str) -> None:
    from tests.servers import ROUND_TRIP, TIMED_ARRIVALS

    TIMED_ARRIVALS.clear()
    limits = ProbeLimits(deadline=5, address_policy=LOOPBACK_ONLY)
    [result] = run_probes([ProbeTarget(hostile + "/timed/mcp", "mcp")], limits)
    assert result.ok, result.error_message
    assert result.tool_names == ["get_products"] and result.protocol_version == "2025-06-18"
    # discover and initialize race; the notification goes out beside tools/list
    assert _waves(TIMED_ARRIVALS, ROUND_TRIP) == [
        {"server/discover", "initialize"},
        {"notifications/initialized", "tools/list"},
    ]

    TIMED_ARRIVALS.clear()
    route = Route(result.transport, result.protocol_version, result.endpoint)
    [again] = run_probes([ProbeTarget(hostile + "/timed/mcp", "mcp", route=route)], limits)
    assert again.ok, again.error_message
    # a remembered handshake route: initialize, then the notification beside tools/list
    assert _waves(TIMED_ARRIVALS, ROUND_TRIP) == [{"initialize"}, {"notifications/initialized", "tools/list"}]


def test_a_server_that_wants_the_notification_first_is_asked_again(hostile: str) -> None:
    limits = ProbeLimits(deadline=5, address_policy=LOOPBACK_ONLY)
    [result] = run_probes([ProbeTarget(hostile + "/strict/mcp", "mcp")], limits)
    assert result.ok, result.error_message
    assert result.tool_names == ["get_signals"]


def test_agents_built_with_the_typescript_sdks_are_classified(db: None, typescript_agents: str) -> None:
    # Express answers the POST to the SSE URL with 404 "Cannot POST /mcp"; the A2A agent
    # is registered at the JSON-RPC URL its card names, and its card is at the origin.
    legacy = make_agent(typescript_agents + "/mcp")
    a2a = make_agent(typescript_agents + "/a2a/jsonrpc", protocol="a2a")
    summary = crawl_chunk([legacy.pk, a2a.pk], deadline=5.0)
    assert summary["failed"] == {}, summary
    legacy_snapshot = CapabilitySnapshot.objects.get(agent=legacy)
    assert (Agent.objects.get(pk=legacy.pk).type, legacy_snapshot.transport, legacy_snapshot.endpoint) == (
        "signals",
        "sse",
        typescript_agents + "/mcp",
    )
    assert legacy_snapshot.tool_names == ["get_signals", "activate_signal"]
    a2a_snapshot = CapabilitySnapshot.objects.get(agent=a2a)
    assert (Agent.objects.get(pk=a2a.pk).type, a2a_snapshot.endpoint) == (
        "sales",
        typescript_agents + "/.well-known/agent-card.json",
    )
