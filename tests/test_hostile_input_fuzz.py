"""Property-based tests: hostile agent replies and URLs end in a fixed error, never a crash."""

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.classify import infer
from probe import ProbeFailure, find_reply, reply_result, tools_from_card
from probe.sse import SSEParser
from probe.vocabulary import ProbeErrorKind
from registry.canonical import MAX_URL_LENGTH, canonicalize_agent_url

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=40,
)
# Shapes close to real replies, so the fuzzer reaches past the first type check.
rpc_like = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": st.integers(0, 3) | st.text(max_size=2) | st.none()},
    optional={
        "result": json_values | st.fixed_dictionaries({}, optional={"tools": json_values, "nextCursor": json_values}),
        "error": json_values,
    },
)
card_like = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "skills": json_values | st.lists(st.dictionaries(st.sampled_from(["id", "name", "x"]), json_values)),
    },
)
# How many examples, and whether they are random, comes from the profile (tests/conftest.py).
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.one_of(json_values, rpc_like, st.lists(rpc_like, max_size=4)), st.integers(0, 3))
def test_json_rpc_replies_parse_or_fail_with_protocol(message: Any, request_id: int) -> None:
    try:
        reply = find_reply(message, request_id)
        result = reply_result(reply, "tools/list")
    except ProbeFailure as failure:
        assert failure.kind == ProbeErrorKind.PROTOCOL
        return
    assert isinstance(result, dict)


@FUZZ
@given(st.one_of(json_values, card_like))
def test_agent_cards_parse_or_fail_with_protocol(card: Any) -> None:
    try:
        tools = tools_from_card(card)
    except ProbeFailure as failure:
        assert failure.kind == ProbeErrorKind.PROTOCOL
        return
    names = tools.names
    assert all(isinstance(n, str) and n and len(n) <= 200 for n in names)
    # Everything kept is storable as PostgreSQL text and jsonb.
    assert not any("\x00" in value for tool in tools.tools for value in tool.values())
    infer(names)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_sse_parsing_never_raises_and_keeps_memory_to_what_it_was_fed(chunks: list[bytes]) -> None:
    parser = SSEParser()
    fed = 0
    for chunk in chunks:
        fed += len(chunk)
        for event in parser.feed(chunk):
            assert isinstance(event.data, str)
        # Buffered text never exceeds what arrived: the probe's byte budget bounds it.
        assert parser.buffered <= fed


@FUZZ
@given(st.lists(rpc_like, max_size=3))
def test_sse_streams_of_messages_round_trip(messages: list[dict[str, Any]]) -> None:
    stream = b"".join(b"event: message\r\ndata: " + json.dumps(m).encode() + b"\r\n\r\n" for m in messages)
    parser = SSEParser()
    events = [e for i in range(0, len(stream), 7) for e in parser.feed(stream[i : i + 7])]
    assert [json.loads(e.data) for e in events] == messages


url_parts = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "", "javascript"]),
    st.one_of(st.text(max_size=30), st.from_regex(r"[a-zA-Z0-9.-]{1,30}", fullmatch=True), st.ip_addresses().map(str)),
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":x", ":"]),
    st.text(max_size=30),
)


@FUZZ
@given(st.one_of(st.text(max_size=100), url_parts))
def test_url_canonicalization_is_idempotent_or_a_clear_error(raw: str) -> None:
    try:
        canonical = canonicalize_agent_url(raw)
    except ValidationError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        return
    assert canonical.startswith(("http://", "https://"))
    assert len(canonical) <= MAX_URL_LENGTH + 10
    assert canonicalize_agent_url(canonical) == canonical
    assert "@" not in canonical.split("/")[2] and "#" not in canonical


@pytest.mark.parametrize("spelling", ["https://Agent.example.com:443/mcp/", "https://agent.example.com/mcp#frag"])
def test_known_spellings_still_merge(spelling: str) -> None:
    assert canonicalize_agent_url(spelling) == "https://agent.example.com/mcp"
