"""In production settings probes reach public addresses only, after every redirect too."""

import asyncio
import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from probe.netsafety import AddressPolicy, BlockedAddressError, SafeResolver, check_url_target, is_public_address
from tests.probing import probe

PRODUCTION = AddressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::1",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(BlockedAddressError):
        PRODUCTION.check(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    PRODUCTION.check(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/json/mcp",
        "http://[::1]:{port}/json/mcp",
        "http://localhost:{port}/json/mcp",  # a name that resolves to loopback
        "http://2130706433:{port}/json/mcp",  # decimal 127.0.0.1
        "http://0x7f.0.0.1:{port}/json/mcp",  # hex
        "http://0177.0.0.1:{port}/json/mcp",  # octal
    ],
)
def test_loopback_in_any_spelling_is_blocked_in_production(official_agents: str, url: str) -> None:
    port = official_agents.rsplit(":", 1)[1]
    result = probe(url.format(port=port), address_policy=PRODUCTION)
    assert result.error_kind in {"blocked", "dns"}, result
    assert result.error_kind == "blocked" or "does not resolve" in result.error_message


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data", "http://10.255.255.1/mcp", "http://[::ffff:192.168.0.1]/"]
)
def test_a_redirect_to_a_private_address_is_refused(hostile: str, target: str) -> None:
    # Loopback is opened for the test server itself; the redirect target is not.
    result = probe(f"{hostile}/redirect?to={target}")
    assert result.error_kind == "blocked"
    assert "private, loopback, link-local or reserved" in result.error_message


def test_a_redirect_to_another_scheme_is_refused(hostile: str) -> None:
    result = probe(f"{hostile}/redirect?to=file:///etc/passwd")
    assert result.error_kind == "blocked"


def test_redirects_are_bounded(hostile: str) -> None:
    loop = f"{hostile}/redirect?to={hostile}/redirect%3Fto%3D{hostile}/status/500"
    assert probe(loop, max_redirects=1).error_kind == "http_status"
    assert "more than 1 redirects" in probe(loop, max_redirects=1).error_message
    assert probe(loop, max_redirects=3).error_message == "HTTP 500 Internal Server Error"


def test_the_explicit_setting_opens_private_addresses(official_agents: str) -> None:
    result = probe(f"{official_agents}/json/mcp", address_policy=AddressPolicy(allow_private=True))
    assert result.ok


PUBLIC_THEN_PRIVATE = ["93.184.216.34", "10.0.0.7"]


class FixedAnswers(AbstractResolver):
    """A name server's answer for a rebinding name: a public address first, then a private one."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=0)
            for address in PUBLIC_THEN_PRIVATE
        ]

    async def close(self) -> None:
        return None


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused_by_the_resolver() -> None:
    resolver = SafeResolver(PRODUCTION, resolver=FixedAnswers())
    with pytest.raises(BlockedAddressError, match="10.0.0.7"):
        asyncio.run(resolver.resolve("rebind.example.com", 443))


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused_before_the_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in PUBLIC_THEN_PRIVATE]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(BlockedAddressError, match="10.0.0.7"):
        check_url_target("https://rebind.example.com/mcp", PRODUCTION)
