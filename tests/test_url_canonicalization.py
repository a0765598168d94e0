import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

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
    first, created = Agent.objects.get_or_create_for_url("https://Agent.Example.com/mcp/")
    again, created_again = Agent.objects.get_or_create_for_url("https://agent.example.com:443/mcp")
    assert created and not created_again
    assert first.pk == again.pk
    assert Agent.objects.get_for_url("HTTPS://AGENT.example.com/mcp#x") == first


def test_saving_a_second_spelling_is_refused_by_the_unique_url(db: None) -> None:
    Agent.objects.create(url="https://agent.example.com/mcp")
    with pytest.raises(IntegrityError):
        Agent.objects.create(url="https://AGENT.example.com/mcp/")
