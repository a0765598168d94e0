"""The public registry page and /api/registry/agents."""

import base64
from typing import Any

import pytest
from django.test import Client

from registry.models import Agent
from tests.factories import make_agent, make_profile, make_snapshot, register


@pytest.fixture
def registry(db: None) -> None:
    acme = make_profile("acme", display_name="Acme Media")
    hidden = make_profile("hidden", is_public=False)
    for i, (declared, inferred) in enumerate(
        [("sales", "sales"), ("creative", None), ("buying", None), ("signals", "signals")]
    ):
        agent = make_agent(f"https://a{i}.acme.example/mcp", name=f"Acme {declared}")
        if inferred or declared == "buying":
            make_snapshot(agent, inferred, last_attempt_at=agent.created_at)
        register(acme, agent, declared)
    unknown = make_agent("https://lost.acme.example/mcp", name="Lost")
    register(acme, unknown, "sales")
    make_snapshot(unknown, None, error_kind="timeout", last_attempt_at=unknown.created_at)
    Agent.objects.filter(pk=unknown.pk).update(type="unknown")
    register(hidden, make_agent("https://secret.example/mcp"), "sales")
    make_agent("https://unregistered.example/mcp", type="sales")


def test_the_page_lists_public_agents_with_type_links(client: Client, registry: None) -> None:
    page = client.get("/registry/").content.decode()
    assert "5 agents" in page
    assert "secret.example" not in page and "unregistered.example" not in page
    for value in ("sales", "creative", "signals", "buying", "unknown"):
        assert f'href="?type={value}"' in page
    assert ">Unclassified<" in page and "Acme Media" in page


@pytest.mark.parametrize(
    "type_, expected", [("sales", ["a0"]), ("unknown", ["lost"]), ("buyer", ["a2"]), ("signals", ["a3"])]
)
def test_type_filters_work_as_links(client: Client, registry: None, type_: str, expected: list[str]) -> None:
    page = client.get(f"/registry/?type={type_}").content.decode()
    for name in ("a0", "a1", "a2", "a3", "lost"):
        assert (f"https://{name}.acme.example/mcp" in page) == (name in expected), name


def test_search_and_a_bad_type_on_the_page(client: Client, registry: None) -> None:
    assert "1 agent<" in client.get("/registry/?q=Lost").content.decode()
    response = client.get("/registry/?type=publisher")
    assert response.status_code == 400 and "&#x27;publisher&#x27; is not an agent type" in response.content.decode()


def test_the_page_renders_with_a_constant_number_of_queries(
    client: Client, registry: None, django_assert_max_num_queries: Any
) -> None:
    # count + rows, whatever the number of agents on the page (sessions aside)
    with django_assert_max_num_queries(2):
        client.get("/registry/")
    acme = make_profile("more")
    for i in range(30):
        register(acme, make_agent(f"https://more{i}.example/mcp"), "sales")
    with django_assert_max_num_queries(2):
        client.get("/registry/")


def test_the_api_returns_stable_fields(client: Client, registry: None) -> None:
    document = client.get("/api/registry/agents", {"type": "unknown"}).json()
    assert set(document) == {"next", "previous", "results"}
    assert document["results"] == [
        {
            "url": "https://lost.acme.example/mcp",
            "display_name": "Lost",
            "member": "acme",
            "member_name": "Acme Media",
            "type": "unknown",
            "type_label": "Unclassified",
            "protocol": "mcp",
            "inferred_type": None,
            "last_probed_at": document["results"][0]["last_probed_at"],
            "last_error_kind": "timeout",
            "online": False,
            "auth_required": False,
            "adcp_protocols": [],
            "transport": None,
            "protocol_version": None,
            "endpoint": None,
            "uptime_7d": None,  # no probe in its history
            "latency_p50_ms": None,
            "host_verified": False,  # no domain of its member proved
            "verified_domain": None,
        }
    ]
    assert document["results"][0]["last_probed_at"].startswith("20")


def test_every_listed_agent_has_exactly_the_fields_the_schema_declares(client: Client, registry: None) -> None:
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    declared = schema["components"]["schemas"]["PublicAgent"]["properties"]
    listed = client.get("/api/registry/agents").json()["results"]
    assert len(listed) == 5  # probed and never probed alike
    for agent in listed:
        assert set(agent) == set(declared) - {"removed"}, agent["url"]


def test_the_api_filters_by_member_and_pages_by_cursor(client: Client, registry: None) -> None:
    assert client.get("/api/registry/agents", {"member": "hidden"}).json()["results"] == []
    urls: list[str] = []
    page = client.get("/api/registry/agents", {"member": "acme", "page_size": "2"}).json()
    while True:
        assert len(page["results"]) <= 2
        urls += [r["url"] for r in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert urls == sorted(urls) and len(urls) == len(set(urls)) == 5


def test_the_api_refuses_a_bad_type_clearly(client: Client, registry: None) -> None:
    response = client.get("/api/registry/agents", {"type": "publisher"})
    assert response.status_code == 400
    assert "'publisher' is not an agent type" in response.json()["fields"]["type"][0]


def test_the_api_pages_with_one_query(client: Client, registry: None, django_assert_num_queries: Any) -> None:
    # Keyset pagination: no COUNT, no OFFSET, one query whatever the page.
    with django_assert_num_queries(1):
        client.get("/api/registry/agents")


def test_the_openapi_description_names_the_endpoints(client: Client, db: None) -> None:
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/registry/agents", "/api/me/member-profile", "/api/registry/agents/{url}/refresh"):
        assert path in schema


def test_the_api_filters_by_a_declared_adcp_protocol(client: Client, db: None) -> None:
    from django.utils import timezone

    from registry.models import CapabilitySnapshot

    profile = make_profile("acme")
    for name, declared in [("a", ["media_buy", "creative"]), ("b", ["creative"]), ("c", [])]:
        agent = make_agent(f"https://{name}.acme.example/mcp")
        register(profile, agent, "sales")
        CapabilitySnapshot.objects.create(agent=agent, adcp_protocols=declared, last_attempt_at=timezone.now())

    def urls(protocol: str) -> list[str]:
        return [r["url"] for r in client.get("/api/registry/agents", {"adcp_protocol": protocol}).json()["results"]]

    assert urls("creative") == ["https://a.acme.example/mcp", "https://b.acme.example/mcp"]
    assert urls("MEDIA_BUY") == ["https://a.acme.example/mcp"]
    refused = client.get("/api/registry/agents", {"adcp_protocol": "media"})
    assert refused.status_code == 400 and "is not an AdCP protocol" in refused.json()["fields"]["adcp_protocol"][0]
    first = client.get("/api/registry/agents", {"type": "publisher"})
    assert first.status_code == 400 and "is not an agent type" in first.json()["fields"]["type"][0]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.b64encode(b"p=https%3A%2F%2Fa.example.com%2F%00mcp").decode(),  # a NUL in the position
        base64.b64encode(b"p=" + b"x" * 5000).decode(),
        base64.b64encode(b"o=-1").decode(),
    ],
)
def test_a_malformed_cursor_is_a_400_naming_the_problem(client: Client, db: None, cursor: str) -> None:
    response = client.get("/api/registry/agents", {"cursor": cursor})
    assert response.status_code == 400
    assert "Invalid cursor" in response.json()["detail"]
