"""Replies built to hurt the crawler: each ends as its agent's error kind, bounded, and
the healthy agents probed beside it are all written."""

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from crawler.classify import evidence_for, infer
from crawler.jobs import crawl_chunk
from crawler.policy import apply_probe_results
from probe import MAX_TOOLS, ProbeLimits, ProbeResult, probe_many, run_probes
from probe.netsafety import AddressPolicy
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, register
from tests.probing import probe
from tests.servers import SPLIT_DESCRIPTION

UNSTORABLE = ("\x00", "\ud800")


def _storable(value: object) -> bool:
    return not any(bad in str(value) for bad in UNSTORABLE)


@pytest.mark.parametrize(
    "path, kind, message",
    [
        ("/nul-error", "protocol", "JSON-RPC error -32000: bad things  happened"),
        ("/tools/deep-json/mcp", "protocol", "nested too deeply"),
        ("/deep-sse", "protocol", "nested too deeply"),
        ("/tools/many-tools/mcp", "too_large", "more than 120,000 JSON items"),
    ],
)
def test_a_hostile_reply_ends_as_its_error_kind(hostile: str, path: str, kind: str, message: str) -> None:
    result = probe(hostile + path)
    assert result.error_kind == kind
    assert message in result.error_message
    assert _storable(result.error_message)


def test_nul_and_lone_surrogates_are_removed_from_what_is_kept(hostile: str) -> None:
    result = probe(hostile + "/tools/nul-tools/mcp")
    assert result.ok, result.error_message
    assert result.tool_names == ["get_products"]
    [tool] = result.tools
    assert tool["title"] == "T" and set(tool["description"]) == {"d"} and len(tool["description"]) == 500


def test_a_probe_keeps_at_most_max_tools_and_says_it_truncated(hostile: str) -> None:
    result = probe(hostile + "/tools/1500-tools/mcp")
    assert result.ok and result.tools_truncated
    assert len(result.tools) == MAX_TOOLS and result.tool_names[0] == "get_products"


def test_50000_case_variants_make_one_line_of_evidence(hostile: str) -> None:
    result = probe(hostile + "/tools/case-variants/mcp")
    assert result.ok and result.tools_truncated and len(result.tools) == MAX_TOOLS
    assert infer(result.tool_names).type == "sales"
    assert evidence_for(result.tool_names, "sales") == ["list_authorized_properties"]


def test_a_utf8_character_split_across_reads_survives(hostile: str) -> None:
    result = probe(hostile + "/split-utf8")
    assert result.ok, result.error_message
    assert result.tools == [{"name": "get_products", "description": SPLIT_DESCRIPTION}]


def test_a_stream_of_newlines_ends_at_the_deadline(hostile: str) -> None:
    started = time.monotonic()
    result = probe(hostile + "/newlines", deadline=1.5)
    assert result.error_kind == "timeout"
    assert time.monotonic() - started < 2.5


@pytest.fixture
def silent_name_server() -> Iterator[str]:
    """A name server on 127.0.0.1 that receives every query and answers none."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_the_deadline_holds_with_many_hostile_agents_at_once(
    hostile: str, official_agents: str, silent_name_server: str
) -> None:
    port = official_agents.rsplit(":", 1)[1]
    healthy = [(f"http://localhost:{port}/json/mcp", "mcp")] * 5  # resolved from /etc/hosts
    unresolvable = [(f"http://agent-{i}.never-answers.test:{port}/mcp", "mcp") for i in range(80)]
    streams = [(hostile + path, "mcp") for path in ["/newlines"] * 3 + ["/deep-sse", "/tools/many-tools/mcp"]]
    limits = ProbeLimits(
        deadline=2.0,
        concurrency=100,  # every probe in flight at once, as in a crawl
        address_policy=AddressPolicy(allow_private=True),
        nameservers=(silent_name_server,),
    )
    started = time.monotonic()
    results = run_probes(unresolvable + streams + healthy, limits)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed  # the 2 s deadline, within 1 s
    assert max(r.elapsed for r in results) < 3.0
    assert [r.error_kind for r in results[-5:]] == [""] * 5
    assert all(r.tool_names == ["get_products", "create_media_buy"] for r in results[-5:])
    assert {r.error_kind for r in results[:80]} == {"timeout"}


@pytest.mark.parametrize("path", ["/tools/many-tools/mcp", "/tools/case-variants/mcp", "/tools/deep-json/mcp"])
def test_a_probes_peak_memory_is_a_small_multiple_of_its_byte_budget(hostile: str, path: str) -> None:
    budget = 4 * 1024 * 1024
    probe(hostile + path, max_bytes=budget)  # warm up: imports, the session, the server's own buffers
    tracemalloc.start()
    try:
        probe(hostile + path, max_bytes=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Measured: 16.6 MiB for the 50,000 case variants (2 MB of JSON), 6.2 MiB for
    # the 215,000 tools refused by the item bound (~65 MiB when they were parsed).
    assert peak < 6 * budget, f"{peak / 2**20:.1f} MiB"


HOSTILE_PATHS = [
    "/nul-error",
    "/tools/nul-tools/mcp",
    "/tools/deep-json/mcp",
    "/deep-sse",
    "/tools/many-tools/mcp",
    "/tools/case-variants/mcp",
    "/newlines",
]


def test_a_crawl_writes_every_healthy_agent_beside_the_hostile_ones(
    db: None, hostile: str, official_agents: str
) -> None:
    healthy = [make_agent(f"{official_agents}/json/mcp"), make_agent(f"{official_agents}/card", protocol="a2a")]
    hostile_agents = {path: make_agent(hostile + path) for path in HOSTILE_PATHS}
    summary = crawl_chunk([a.pk for a in [*healthy, *hostile_agents.values()]], deadline=2.0)
    assert summary["probed"] == len(HOSTILE_PATHS) + 2
    inferred = dict(CapabilitySnapshot.objects.values_list("agent_id", "inferred_type"))
    assert [inferred[a.pk] for a in healthy] == ["sales", "sales"]
    errors = dict(CapabilitySnapshot.objects.values_list("agent__url", "error_kind"))
    assert {path: errors[hostile + path] for path in HOSTILE_PATHS} == {
        "/nul-error": "protocol",
        "/tools/nul-tools/mcp": "",
        "/tools/deep-json/mcp": "protocol",
        "/deep-sse": "protocol",
        "/tools/many-tools/mcp": "too_large",
        "/tools/case-variants/mcp": "",
        "/newlines": "timeout",
    }
    variants = CapabilitySnapshot.objects.get(agent=hostile_agents["/tools/case-variants/mcp"])
    assert variants.tools_truncated and variants.inferred_from == ["list_authorized_properties"]
    assert all(_storable(t) for t in CapabilitySnapshot.objects.values_list("tools", flat=True))


def test_a_result_the_database_refuses_costs_only_its_own_agent(postgres_only: None) -> None:
    fine, poisoned = make_agent(), make_agent()
    results = [
        (fine.pk, ProbeResult(url=fine.url, protocol="mcp", tool_names=["get_products"])),
        # Not from the probe (which cleans what it keeps): PostgreSQL refuses NUL in jsonb.
        (poisoned.pk, ProbeResult(url=poisoned.url, protocol="mcp", tool_names=["get_products\x00"])),
    ]
    outcomes = {o.agent_id: o for o in apply_probe_results(results).outcomes}
    assert (outcomes[fine.pk].action, outcomes[poisoned.pk].action) == ("promoted", "failed")
    assert Agent.objects.get(pk=fine.pk).type == "sales"
    snapshot = CapabilitySnapshot.objects.get(agent=poisoned)
    assert (snapshot.error_kind, snapshot.inferred_type) == ("protocol", None)
    assert "could not be stored" in snapshot.error_message


def test_the_refresh_api_answers_a_hostile_reply_with_502_and_its_kind(db: None, hostile: str) -> None:
    cache.clear()
    owner = User.objects.create_user("olga")
    agent = make_agent(hostile + "/tools/deep-json/mcp")
    register(make_profile("hostile"), agent, "sales")
    agent.registration.profile.owners.add(owner)
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(f"/api/registry/agents/{quote(agent.url, safe='')}/refresh")
    assert response.status_code == 502
    assert response.json()["error_kind"] == "protocol"


def test_newline_floods_hold_neither_the_loop_nor_a_healthy_probe_beside_them(
    hostile: str, official_agents: str
) -> None:
    targets = [(hostile + "/newlines", "mcp")] * 5 + [(official_agents + "/json/mcp", "mcp")]
    limits = ProbeLimits(deadline=3.0, address_policy=AddressPolicy(allow_private=True))

    async def probe_while_ticking() -> tuple[list[ProbeResult], float]:
        gaps: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.005)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        ticker = asyncio.create_task(tick())
        results = await probe_many(targets, limits)
        done.set()
        await ticker
        return results, max(gaps)

    started = time.monotonic()
    results, longest_hold = asyncio.run(probe_while_ticking())
    elapsed = time.monotonic() - started
    assert [r.error_kind for r in results] == ["timeout"] * 5 + [""]
    assert results[-1].elapsed < 1.0, results[-1].elapsed  # the healthy agent did not wait for the floods
    assert elapsed < 3.0 + 0.5, elapsed
    assert longest_hold < 0.1, longest_hold
