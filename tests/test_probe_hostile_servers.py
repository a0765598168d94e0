"""Hostile endpoints: each ends within its deadline with the right error kind."""

import time

import pytest

from probe import ProbeLimits, iter_probe_batches, run_probes
from tests.probing import LOOPBACK_ONLY, probe
from tests.servers import closed_port


@pytest.mark.parametrize("path", ["/never", "/drip"])
def test_a_server_that_never_finishes_ends_at_the_deadline(hostile: str, path: str) -> None:
    started = time.monotonic()
    result = probe(hostile + path, deadline=1.5)
    elapsed = time.monotonic() - started
    assert result.error_kind == "timeout"
    assert "1.5 s" in result.error_message
    assert elapsed < 3, elapsed


def test_a_dripping_agent_card_ends_at_the_deadline(hostile: str) -> None:
    result = probe(hostile + "/drip", "a2a", deadline=1.5)
    assert result.error_kind == "timeout"


@pytest.mark.parametrize("path", ["/huge", "/huge-announced"])
def test_a_20_mb_reply_is_cut_at_the_byte_cap(hostile: str, path: str) -> None:
    result = probe(hostile + path, max_bytes=4 * 1024 * 1024)
    assert result.error_kind == "too_large"


def test_the_byte_cap_covers_the_agent_card(hostile: str) -> None:
    assert probe(hostile + "/huge", "a2a", max_bytes=1024 * 1024).error_kind == "too_large"


@pytest.mark.parametrize(
    "path, kind, message",
    [
        ("/invalid-json", "protocol", "not valid JSON"),
        ("/sse-garbage", "protocol", "ended without a reply"),
        ("/jsonrpc-error", "protocol", "JSON-RPC error -32601: no such method"),
        ("/not-an-agent", "protocol", "not valid JSON"),
        ("/status/401", "auth_required", "HTTP 401"),
        ("/status/403", "auth_required", "HTTP 403"),
        ("/status/500", "http_status", "HTTP 500"),
    ],
)
def test_bad_replies_get_their_error_kind(hostile: str, path: str, kind: str, message: str) -> None:
    result = probe(hostile + path)
    assert result.error_kind == kind
    assert message in result.error_message


def test_an_sse_stream_left_open_is_read_up_to_the_reply(hostile: str) -> None:
    started = time.monotonic()
    result = probe(hostile + "/sse-open", deadline=5)
    assert result.ok, result.error_message
    assert result.tool_names == ["get_products"]
    assert time.monotonic() - started < 2


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    result = probe("http://agent.does-not-exist.invalid/mcp")
    assert result.error_kind == "dns"
    assert "agent.does-not-exist.invalid does not resolve" in result.error_message


def test_a_closed_port_is_a_connect_error() -> None:
    result = probe(f"http://127.0.0.1:{closed_port()}/mcp")
    assert result.error_kind == "connect"


def test_one_bad_agent_does_not_hold_up_the_others(hostile: str, official_agents: str) -> None:
    targets = [(hostile + "/never", "mcp"), (f"{official_agents}/json/mcp", "mcp"), (hostile + "/huge", "mcp")]
    started = time.monotonic()
    results = run_probes(targets, ProbeLimits(deadline=1.5, address_policy=LOOPBACK_ONLY))
    assert [r.error_kind for r in results] == ["timeout", "", "too_large"]
    assert time.monotonic() - started < 3
    assert results[1].elapsed < 1


def test_it_sends_a_user_agent_naming_the_crawler(hostile: str) -> None:
    result = probe(hostile + "/whoami")
    assert "AdCP-Agent-Registry-Crawler/1.0" in result.error_message


def test_a_silent_agent_gives_its_slot_to_the_next_one(hostile: str, official_agents: str) -> None:
    # One active slot: the answering agent waits only until the silent one is demoted.
    targets = [(hostile + "/never", "mcp"), (f"{official_agents}/json/mcp", "mcp")]
    limits = ProbeLimits(deadline=3, concurrency=1, slow_after=0.2, address_policy=LOOPBACK_ONLY)
    started = time.monotonic()
    batches = iter_probe_batches(targets, limits, max_wait=0.05)
    first = next(batches)
    assert [(index, result.ok) for index, result in first] == [(1, True)]
    assert time.monotonic() - started < 1.5
    assert [(index, result.error_kind) for batch in batches for index, result in batch] == [(0, "timeout")]


def test_a_caller_that_stops_iterating_stops_the_probes(hostile: str, official_agents: str) -> None:
    import threading

    targets = [(f"{official_agents}/json/mcp", "mcp"), *[(hostile + "/never", "mcp")] * 5]
    batches = iter_probe_batches(targets, ProbeLimits(deadline=60, address_policy=LOOPBACK_ONLY), max_wait=0.05)
    assert [index for index, _ in next(batches)] == [0]
    batches.close()  # the caller leaves; five probes still have a minute to run
    assert not [t for t in threading.enumerate() if t.name == "probe-loop"]
