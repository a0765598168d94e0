"""Members prove they own the hosts their agents run on: a TXT record through a real
name server on 127.0.0.1, or a well-known file served on 127.0.0.1 (plain HTTP, as
loopback probes are allowed in the suite)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiohttp import web
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from audit.models import Notice, NoticeKind
from members.models import DomainClaim, DomainEvent, MemberProfile
from registry.models import Agent
from tests.factories import client_for, make_profile
from tests.nameserver import NameServer
from tests.servers import AiohttpServerThread

DOMAINS = "/api/me/member-profile/domains"
# What the well-known server answers, per Host: (status, body, Location).
FILES: dict[str, tuple[int, str, str]] = {}


async def _well_known(request: web.Request) -> web.Response:
    status, body, location = FILES.get(request.host.split(":")[0], (404, "not here", ""))
    return web.Response(status=status, text=body, headers={"Location": location} if location else {})


@pytest.fixture(scope="module")
def well_known_port() -> Iterator[int]:
    app = web.Application()
    app.router.add_get("/.well-known/adcp-registry-verification", _well_known)
    with AiohttpServerThread(app) as server:
        yield server.port


@pytest.fixture
def zone(name_server: NameServer, well_known_port: int) -> Iterator[NameServer]:
    name_server.zone.clear()
    FILES.clear()
    with override_settings(AGENT_PROBE_NAMESERVERS=[name_server.address], DOMAIN_PROOF_HTTP_PORT=well_known_port):
        yield name_server


def _owner(slug: str) -> tuple[User, MemberProfile]:
    user = User.objects.create_user(f"owner-of-{slug}", password="pw")
    profile = make_profile(slug, display_name=slug.title())
    profile.owners.add(user)
    return user, profile


@pytest.fixture
def acme(db: None) -> User:
    return _owner("acme")[0]


def _claim(user: User, domain: str = "acme.example") -> dict[str, object]:
    response = client_for(user).post(DOMAINS, {"domain": domain}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _verify(user: User, domain: str = "acme.example") -> dict[str, object]:
    response = client_for(user).post(f"{DOMAINS}/{domain}/verify")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_a_claim_says_how_to_prove_it_with_a_fresh_token(acme: User, zone: NameServer) -> None:
    claim = _claim(acme, "ACME.example.")
    token = str(claim["token"])
    assert len(token) >= 22  # 128 bits and more, URL-safe base64
    assert claim["domain"] == "acme.example" and claim["verified"] is False
    assert claim["dns"] == {
        "name": "_adcp-registry.acme.example",
        "type": "TXT",
        "value": f"adcp-registry-verification={token}",
    }
    assert claim["http"] == {
        "url": f"http://acme.example:{zone_port()}/.well-known/adcp-registry-verification",
        "body": token,
    }
    other, _ = _owner("globex")
    assert _claim(other)["token"] != token  # several profiles may claim one domain, each with its own token


def zone_port() -> int:
    from django.conf import settings

    return int(settings.DOMAIN_PROOF_HTTP_PORT)


def test_the_txt_record_verifies(acme: User, zone: NameServer) -> None:
    claim = _claim(acme)
    zone.zone.txt["_adcp-registry.acme.example"] = ["v=spf1 -all", f"adcp-registry-verification={claim['token']}"]
    verified = _verify(acme)
    assert verified["verified"] is True and verified["verified_by"] == "dns" and verified["verified_at"]
    assert verified["last_error"] == ""
    [event] = DomainEvent.objects.all()
    assert (event.profile_slug, event.domain, event.kind, event.proof) == ("acme", "acme.example", "verified", "dns")


def test_a_record_with_another_profiles_token_does_not_verify(acme: User, zone: NameServer) -> None:
    _claim(acme)
    other, _ = _owner("globex")
    theirs = _claim(other)
    zone.zone.txt["_adcp-registry.acme.example"] = [f"adcp-registry-verification={theirs['token']}"]
    zone.zone.a["acme.example"] = "127.0.0.1"  # the host answers, with no file
    refused = _verify(acme)
    assert refused["verified"] is False
    assert "no TXT record at _adcp-registry.acme.example holds this profile's token" in str(refused["last_error"])
    assert "the well-known file answered 404" in str(refused["last_error"])
    assert _verify(other)["verified"] is True
    assert not DomainEvent.objects.filter(profile_slug="acme").exists()


def test_the_well_known_file_verifies(acme: User, zone: NameServer) -> None:
    claim = _claim(acme)
    zone.zone.a["acme.example"] = "127.0.0.1"
    FILES["acme.example"] = (200, f"{claim['token']}\n", "")
    verified = _verify(acme)
    assert (verified["verified"], verified["verified_by"]) == (True, "http")


def test_a_redirect_to_another_host_does_not_verify(acme: User, zone: NameServer) -> None:
    claim = _claim(acme)
    zone.zone.a["acme.example"] = "127.0.0.1"
    zone.zone.a["elsewhere.example"] = "127.0.0.1"
    FILES["elsewhere.example"] = (200, str(claim["token"]), "")
    FILES["acme.example"] = (
        302,
        "",
        f"http://elsewhere.example:{zone_port()}/.well-known/adcp-registry-verification",
    )
    refused = _verify(acme)
    assert refused["verified"] is False
    assert "the well-known file redirects to another host (elsewhere.example)" in str(refused["last_error"])


@pytest.mark.parametrize(
    "domain,why",
    [
        ("com", "public suffix"),
        ("co.uk", "public suffix"),
        ("github.io", "public suffix"),
        ("192.0.2.1", "IP address"),
        ("[2001:db8::1]", "IP address"),
        ("not a domain", "not a valid domain name"),
    ],
)
def test_public_suffixes_and_ip_addresses_cannot_be_claimed(acme: User, domain: str, why: str) -> None:
    response = client_for(acme).post(DOMAINS, {"domain": domain}, format="json")
    assert response.status_code == 400
    assert why in response.json()["fields"]["domain"][0]
    assert not DomainClaim.objects.exists()


def test_only_the_profile_that_proved_the_domain_has_its_agents_verified(acme: User, zone: NameServer) -> None:
    globex_user, globex = _owner("globex")
    claim = _claim(acme)
    agents = [{"url": "https://agents.acme.example/mcp", "declared_type": "sales"}]
    assert client_for(acme).put("/api/me/member-profile", {"display_name": "Acme", "agents": agents}, format="json")
    theirs = [{"url": "https://agents.acme.example/globex", "declared_type": "signals"}]
    client_for(globex_user).put("/api/me/member-profile", {"display_name": "Globex", "agents": theirs}, format="json")
    zone.zone.txt["_adcp-registry.acme.example"] = [f"adcp-registry-verification={claim['token']}"]
    _verify(acme)

    listing = {a["url"]: a for a in client_for(None).get("/api/registry/agents").json()["results"]}
    assert (
        listing["https://agents.acme.example/mcp"]["host_verified"],
        listing["https://agents.acme.example/mcp"]["verified_domain"],
    ) == (True, "acme.example")
    assert listing["https://agents.acme.example/globex"]["host_verified"] is False
    only = client_for(None).get("/api/registry/agents?host_verified=true").json()["results"]
    assert [a["url"] for a in only] == ["https://agents.acme.example/mcp"]
    others = client_for(None).get("/api/registry/agents?host_verified=false").json()["results"]
    assert [a["url"] for a in others] == ["https://agents.acme.example/globex"]
    assert client_for(None).get("/api/registry/agents?host_verified=maybe").status_code == 400

    # The owner's own view says so, and tells the other owner what to do.
    [mine] = client_for(acme).get("/api/me/member-profile").json()["agents"]
    assert (mine["host_verified"], mine["host_verification"]) == (True, None)
    [their] = client_for(globex_user).get("/api/me/member-profile").json()["agents"]
    assert their["host_verified"] is False and "Claim acme.example" in their["host_verification"]
    [notice] = Notice.objects.filter(kind=NoticeKind.HOST_VERIFIED)
    assert (notice.agent_url, notice.member, notice.payload) == (
        "https://agents.acme.example/mcp",
        "acme",
        {"domain": "acme.example"},
    )
    page = client_for(None).get("/registry/").content.decode()
    assert 'title="The member proved it controls acme.example' in page


def test_a_proof_that_fails_for_72_hours_is_lost_with_a_notice(acme: User, zone: NameServer) -> None:
    from members.domains import recheck_verified

    claim = _claim(acme)
    client_for(acme).put(
        "/api/me/member-profile",
        {"display_name": "Acme", "agents": [{"url": "https://acme.example/mcp", "declared_type": "sales"}]},
        format="json",
    )
    zone.zone.txt["_adcp-registry.acme.example"] = [f"adcp-registry-verification={claim['token']}"]
    _verify(acme)
    del zone.zone.txt["_adcp-registry.acme.example"]

    # A day later the record is gone: the check fails, the verification stands.
    DomainClaim.objects.update(last_checked_at=timezone.now() - timedelta(days=1))
    assert recheck_verified() == 1
    stored = DomainClaim.objects.get()
    assert stored.verified and stored.failing_since is not None and "no TXT record" in stored.last_error
    # Every check failing for 72 hours (the clock moved on): lost.
    DomainClaim.objects.update(
        last_checked_at=timezone.now() - timedelta(days=1), failing_since=timezone.now() - timedelta(hours=72)
    )
    assert recheck_verified() == 1
    assert not DomainClaim.objects.get().verified
    assert list(DomainEvent.objects.values_list("kind", flat=True)) == ["lost", "verified"]
    [lost] = Notice.objects.filter(kind=NoticeKind.HOST_UNVERIFIED)
    assert (lost.agent_url, lost.payload) == ("https://acme.example/mcp", {"domain": "acme.example"})
    [agent] = client_for(None).get("/api/registry/agents").json()["results"]
    assert agent["host_verified"] is False
    assert recheck_verified() == 0  # an unverified domain waits for its owner


def test_the_enforcement_refuses_an_unverified_host_and_writes_nothing(db: None, zone: NameServer) -> None:
    user = User.objects.create_user("newcomer", password="pw")
    body = {
        "slug": "newco",
        "display_name": "Newco",
        "agents": [{"url": "https://agents.bigpublisher.example/mcp", "declared_type": "sales"}],
    }
    with override_settings(REGISTRY_REQUIRE_VERIFIED_HOSTS=True):
        response = client_for(user).post("/api/me/member-profile", body, format="json")
    assert response.status_code == 400
    assert (
        "agents.bigpublisher.example is on no domain this profile has verified"
        in response.json()["fields"]["agents"][0]
    )
    assert "Claim bigpublisher.example" in response.json()["fields"]["agents"][0]
    assert not MemberProfile.objects.exists() and not Agent.objects.exists()
    # Off (the default), the same registration is accepted and shown as unverified.
    assert client_for(user).post("/api/me/member-profile", body, format="json").status_code == 201


def test_a_claim_can_be_withdrawn(acme: User, zone: NameServer) -> None:
    _claim(acme)
    assert client_for(acme).delete(f"{DOMAINS}/acme.example").status_code == 204
    assert client_for(acme).get(DOMAINS).json() == []
    assert client_for(acme).delete(f"{DOMAINS}/acme.example").status_code == 404


def test_staff_verify_by_hand_with_a_note_and_revoke(acme: User, zone: NameServer) -> None:
    from django.test import Client

    from tests.factories import make_staff

    _claim(acme)
    client_for(acme).put(
        "/api/me/member-profile",
        {"display_name": "Acme", "agents": [{"url": "https://acme.example/mcp", "declared_type": "sales"}]},
        format="json",
    )
    staff = Client()
    staff.force_login(make_staff("rita", superuser=False, permissions=("verify_domain", "view_domainclaim")))
    changelist = "/admin/members/domainclaim/"
    pk = str(DomainClaim.objects.get().pk)
    first = staff.post(changelist, {"action": "verify_by_hand", "_selected_action": [pk]})
    page = first.content.decode()
    assert first.status_code == 200 and "acme.example" in page and "Note for the domain's history" in page
    assert not DomainClaim.objects.get().verified  # the first step writes nothing
    staff.post(
        changelist, {"action": "verify_by_hand", "_selected_action": [pk], "post": "yes", "note": "contract on file"}
    )
    claim = DomainClaim.objects.get()
    assert (claim.verified_by, claim.verified_actor, claim.verified_note) == ("staff", "rita", "contract on file")
    assert "verified by staff (rita)" in staff.get(changelist).content.decode()
    [agent] = client_for(None).get("/api/registry/agents").json()["results"]
    assert agent["host_verified"] is True

    staff.post(
        changelist, {"action": "revoke_verification", "_selected_action": [pk], "post": "yes", "note": "mistake"}
    )
    assert not DomainClaim.objects.get().verified
    assert list(DomainEvent.objects.values_list("kind", "proof", "actor", "note")) == [
        ("revoked", "staff", "rita", "mistake"),
        ("verified", "staff", "rita", "contract on file"),
    ]
    # Without the permission the actions are not offered.
    clerk = Client()
    clerk.force_login(make_staff("clerk", superuser=False, permissions=("view_domainclaim",)))
    assert "verify_by_hand" not in clerk.get(changelist).content.decode()


def test_the_demo_proves_one_members_domain_with_the_fleets_file(
    transactional_db: None, demo_fleet: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    call_command("seed_demo", fleet_url=demo_fleet, verbosity=0)
    port = int(demo_fleet.rsplit(":", 1)[1])
    with override_settings(DOMAIN_PROOF_HTTP_PORT=port):
        call_command("verify_domains", all=True)
    assert capsys.readouterr().out.strip().endswith("\n1 domain claim checked: 1 newly verified.")
    listing = client_for(None).get("/api/registry/agents?page_size=50").json()["results"]
    verified = {a["member"]: a["verified_domain"] for a in listing if a["host_verified"]}
    assert verified == {"northwind": "northwind.localhost"}
    assert len(listing) == 16
    northwind = next(a for a in listing if a["member"] == "northwind")
    assert northwind["url"] == f"http://agents.northwind.localhost:{port}/northwind/mcp"
