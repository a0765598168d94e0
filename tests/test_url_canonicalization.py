import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.canonical import canonicalize_agent_url
from registry.models import Agent


@pytest.mark.parametrize(
    "spelling",
    [
        "https://agent.example.com/mcp",
        "HTTPS://Agent.Example.COM/mcp",
        "https://agent.example.com:443/mcp",
        "https://agent.example.com/mcp/",
        "https://agent.example.com/mcp#tools",
        "  https://agent.example.com/mcp  ",
        "https://agent.example.com./mcp",
    ],
)
def test_it_merges_spellings_of_one_url(spelling: str) -> None:
    assert canonicalize_agent_url(spelling) == "https://agent.example.com/mcp"


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("http://agent.example.com:80/", "http://agent.example.com"),
        ("http://agent.example.com:8080/a2a", "http://agent.example.com:8080/a2a"),
        ("https://agent.example.com:80/", "https://agent.example.com:80"),
        ("https://bücher.example/mcp", "https://xn--bcher-kva.example/mcp"),
        ("http://[::1]:8765/mcp", "http://[::1]:8765/mcp"),
        ("http://[0:0:0:0:0:0:0:1]/mcp", "http://[::1]/mcp"),
        ("https://agent.example.com/MCP?tenant=A", "https://agent.example.com/MCP?tenant=A"),
    ],
)
def test_it_keeps_what_distinguishes_urls(raw: str, canonical: str) -> None:
    assert canonicalize_agent_url(raw) == canonical


@pytest.mark.parametrize(
    "raw, message",
    [
        ("", "required"),
        ("agent.example.com/mcp", "must be absolute"),
        ("ftp://agent.example.com/mcp", "scheme must be http or https, not 'ftp'"),
        ("javascript:alert(1)", "must be absolute"),
        ("https://user:pw@agent.example.com/mcp", "user name or password"),
        ("https://agent.example.com:99999/mcp", "port '99999'"),
        ("https://agent.example.com:http/mcp", "port 'http'"),
        ("https://agent.example.com:²/mcp", "port '²'"),  # a digit to str.isdigit(), not to int()
        ("https://agent example.com/mcp", "spaces"),
        ("https://agent_bad.example.com/mcp", "not a valid domain name"),
        ("https://[::1/mcp", "IPv6"),
        ("https://" + "a" * 2100 + ".com", "longer than 2048"),
        ("https:///mcp", "must be absolute"),
        ("http://2130706433/mcp", "neither a domain name nor a dotted IPv4"),
        ("http://0x7f.0.0.1/mcp", "neither a domain name nor a dotted IPv4"),
        ("http://0177.0.0.1/mcp", "neither a domain name nor a dotted IPv4"),
    ],
)
def test_it_rejects_bad_urls_naming_the_problem(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        canonicalize_agent_url(raw)
    assert message in exc.value.messages[0]


def test_two_spellings_are_one_agent(db: None) -> None:
    first = Agent.objects.create(url=canonicalize_agent_url("https://Agent.Example.com/mcp/"))
    assert Agent.objects.get_for_url("https://agent.example.com:443/mcp") == first
    assert Agent.objects.get_for_url("HTTPS://AGENT.example.com/mcp#x") == first


def test_saving_a_second_spelling_is_refused_by_the_unique_url(db: None) -> None:
    Agent.objects.create(url="https://agent.example.com/mcp")
    with pytest.raises(IntegrityError):
        Agent.objects.create(url="https://AGENT.example.com/mcp/")


@pytest.mark.parametrize(
    "spelling",
    [
        "https://agent.example.com/./mcp",
        "https://agent.example.com/%6Dcp",
        "https://agent.example.com/%6dcp",
        "https://agent.example.com/x/../mcp",
        "https://agent.example.com/%2e/mcp",
        "https://agent.example.com/%2E%2E/mcp",
        "https://agent.example.com/mcp/.",
        "https://agent.example.com/mcp/x/..",
    ],
)
def test_spellings_an_http_client_sends_as_the_same_target_are_one_agent(spelling: str) -> None:
    assert canonicalize_agent_url(spelling) == "https://agent.example.com/mcp"


@pytest.mark.parametrize(
    "raw, canonical",
    [
        ("https://agent.example.com/MCP", "https://agent.example.com/MCP"),  # paths are case-sensitive
        ("https://agent.example.com/a%2fb", "https://agent.example.com/a%2Fb"),  # an escaped '/' stays escaped
        ("https://agent.example.com/%7Euser", "https://agent.example.com/~user"),
        ("https://agent.example.com/mcp?b=2&a=1", "https://agent.example.com/mcp?b=2&a=1"),  # order is kept
        ("https://agent.example.com/mcp?X=%2e", "https://agent.example.com/mcp?X=."),  # as the wire sends it
    ],
)
def test_it_keeps_what_the_wire_distinguishes(raw: str, canonical: str) -> None:
    assert canonicalize_agent_url(raw) == canonical


@pytest.mark.parametrize(
    "raw, message",
    [
        ("https://agent.example.com/mcp;", "parameters"),
        ("https://agent.example.com/mcp;v=1", "parameters"),
        ("https://agent.example.com/a//mcp", "empty segment"),
        ("https://agent.example.com/%zz", "not a percent-escape"),
    ],
)
def test_it_refuses_paths_the_wire_would_read_another_way(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        canonicalize_agent_url(raw)


_PATHS = st.lists(
    st.sampled_from(
        ["mcp", "MCP", ".", "..", "%2e", "%2E", "%6D", "%6d", "a%2fb", "~x", "%7E", "", "x y", "é", "%C3%A9", "%c3%a9"]
    ),
    max_size=5,
).map(lambda segments: "/" + "/".join(segments))


def _request_target(url: str) -> str:
    """What aiohttp sends: the probe builds its requests with yarl like this."""
    from yarl import URL

    return URL(url, encoded=False).raw_path_qs


@settings(deadline=None)
@given(_PATHS, _PATHS)
def test_canonical_urls_are_fixed_points_and_distinct_ones_reach_distinct_targets(first: str, second: str) -> None:
    canonical = []
    for path in (first, second):
        try:
            url = canonicalize_agent_url("https://agent.example.com" + path)
        except ValidationError:
            return
        assert canonicalize_agent_url(url) == url
        canonical.append(url)
    if canonical[0] != canonical[1]:
        assert _request_target(canonical[0]) != _request_target(canonical[1])


@pytest.mark.parametrize("spelling", ["?x=\u2028", "?x=%E2%80%A8", "?x=%e2%80%a8"])
def test_query_strings_the_wire_sends_alike_are_one_agent(spelling: str) -> None:
    assert canonicalize_agent_url("https://agent.example.com/mcp" + spelling) == (
        "https://agent.example.com/mcp?x=%E2%80%A8"
    )


_QUERIES = st.lists(
    st.sampled_from(["x=1", "x=%2e", "x=.", "y=%2f", "y=/", "z=\u2028", "z=%E2%80%A8", "a=%7E", "a=~", "b=%41", "q=+"]),
    min_size=1,
    max_size=3,
).map(lambda items: "?" + "&".join(items))


@settings(deadline=None)
@given(_QUERIES, _QUERIES)
def test_canonical_queries_are_fixed_points_and_distinct_ones_reach_distinct_targets(first: str, second: str) -> None:
    urls = [canonicalize_agent_url("https://agent.example.com/mcp" + query) for query in (first, second)]
    assert all(canonicalize_agent_url(url) == url for url in urls)
    assert (urls[0] == urls[1]) == (_request_target(urls[0]) == _request_target(urls[1]))


def test_existing_spellings_of_one_endpoint_fold_into_the_oldest_agent(db: None) -> None:
    from django.apps import apps

    from audit.models import TypeReclassification
    from members.models import MemberAgent
    from members.url_fold import fold_duplicate_agents
    from registry.models import CapabilitySnapshot
    from tests.factories import make_agent, make_profile, make_snapshot, register

    oldest = make_agent("https://agent.example.com/mcp", type="sales")
    make_snapshot(oldest, "sales", ["get_products"])
    register(make_profile("acme"), oldest, "sales")
    # Rows saved before the rules read dot segments and escapes as the wire does.
    spelled = [make_agent(f"https://agent{i}.example.com/mcp") for i in range(2)]
    Agent.objects.filter(pk=spelled[0].pk).update(url="https://agent.example.com/./mcp")
    Agent.objects.filter(pk=spelled[1].pk).update(url="https://agent.example.com/%6Dcp")
    register(make_profile("rival"), spelled[0], "buying")
    alone = make_agent("https://other.example.com/x")
    Agent.objects.filter(pk=alone.pk).update(url="https://other.example.com/a/../x")

    assert fold_duplicate_agents(apps) == 2
    assert list(Agent.objects.order_by("pk").values_list("pk", "url")) == [
        (oldest.pk, "https://agent.example.com/mcp"),
        (alone.pk, "https://other.example.com/x"),
    ]
    assert MemberAgent.objects.get(agent=oldest).profile.slug == "acme"  # the older registration stays
    assert CapabilitySnapshot.objects.get(agent=oldest).inferred_type == "sales"
    merges = TypeReclassification.objects.filter(source="url_merge")
    assert sorted(r.notes["folded_url"] for r in merges) == [
        "https://agent.example.com/%6Dcp",
        "https://agent.example.com/./mcp",
    ]
    assert fold_duplicate_agents(apps) == 0  # converged
