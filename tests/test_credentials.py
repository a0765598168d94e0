"""Agents behind a login: owners save credentials, probes sign in with them, secrets stay secret."""

import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from crawler.jobs import crawl_chunk
from credentials.models import AgentCredential, CredentialChange
from members.models import MemberAgent
from members.registration import unregister_agents
from probe.auth import forget_tokens
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, make_staff, register
from tests.login_walls import BEARER_TOKEN, HEADER_SECRET, OAUTH_CLIENT_ID, OAUTH_SECRET, LoginWalls, login_walls


@pytest.fixture(scope="module")
def walls() -> Iterator[LoginWalls]:
    with login_walls() as servers:
        yield servers


@pytest.fixture(autouse=True)
def fresh_limits_and_tokens() -> Iterator[None]:
    cache.clear()
    forget_tokens()
    # Jobs run inline, as without Redis: the probe a saved credential triggers runs now.
    with override_settings(REDIS_URL=""):
        yield
    cache.clear()


def _owned(url: str, *, public: bool = True) -> tuple[Agent, APIClient]:
    owner = User.objects.create_user(f"owner{User.objects.count()}")
    profile = make_profile(is_public=public)
    profile.owners.add(owner)
    agent = make_agent(url)
    register(profile, agent, "buying")  # declared before any probe
    client = APIClient()
    client.force_authenticate(owner)
    return agent, client


def _path(agent: Agent) -> str:
    return f"/api/registry/agents/{quote(agent.url, safe='')}/credentials"


def _crawl(agent: Agent) -> CapabilitySnapshot:
    crawl_chunk([agent.pk], deadline=5.0)
    return CapabilitySnapshot.objects.get(agent=agent)


BODIES = {
    "bearer": lambda walls: {"scheme": "bearer", "token": BEARER_TOKEN},
    "header": lambda walls: {"scheme": "header", "name": "X-Api-Key", "value": HEADER_SECRET},
    "oauth": lambda walls: {"scheme": "oauth_client_credentials", "client_id": OAUTH_CLIENT_ID,
                            "client_secret": OAUTH_SECRET},
}  # fmt: skip


@pytest.mark.parametrize("wall", ["bearer", "header", "oauth"])
def test_a_login_wall_is_classified_once_its_owner_saves_credentials(
    db: None, walls: LoginWalls, wall: str, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    agent, client = _owned(getattr(walls, wall))
    snapshot = _crawl(agent)
    assert (snapshot.error_kind, snapshot.auth_required, snapshot.inferred_type) == ("auth_required", True, None)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.put(_path(agent), BODIES[wall](walls), format="json")
    assert response.status_code == 204, response.content
    assert response["Registry-Probe"] == "enqueued"  # and, without Redis, already done
    snapshot.refresh_from_db()
    assert (snapshot.error_kind, snapshot.inferred_type, snapshot.auth_required) == ("", "sales", False)
    credential = AgentCredential.objects.get(agent=agent)
    assert (credential.last_result, credential.last_used_at is not None) == ("ok", True)
    described = client.get(_path(agent)).json()
    assert described["scheme"] == BODIES[wall](walls)["scheme"] and described["last_result"] == "ok"


def test_oauth_discovers_the_token_endpoint_and_reuses_the_token(
    db: None, walls: LoginWalls, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    agent, client = _owned(walls.oauth)
    with django_capture_on_commit_callbacks(execute=True):
        client.put(_path(agent), BODIES["oauth"](walls), format="json")
    assert CapabilitySnapshot.objects.get(agent=agent).inferred_type == "sales"  # discovered, signed in
    issued = len(walls.tokens_issued)
    cache.clear()
    assert _crawl(agent).inferred_type == "sales"
    assert len(walls.tokens_issued) == issued  # the cached access token, not a new one


def test_a_saved_token_url_skips_discovery(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.oauth)
    body = {**BODIES["oauth"](walls), "token_url": walls.token_url}
    assert client.put(_path(agent), body, format="json").status_code == 204
    assert _crawl(agent).inferred_type == "sales"


@pytest.mark.parametrize(
    "wall, body",
    [
        ("bearer", {"scheme": "bearer", "token": "wrong-token-8c1"}),
        ("header", {"scheme": "header", "name": "X-Api-Key", "value": "wrong-key-8c1"}),
    ],
)
def test_a_rejected_credential_is_auth_failed_never_unreachable(
    db: None, walls: LoginWalls, wall: str, body: dict[str, str]
) -> None:
    agent, client = _owned(getattr(walls, wall))
    client.put(_path(agent), body, format="json")
    for _ in range(12):
        cache.clear()
        snapshot = _crawl(agent)
    assert (snapshot.error_kind, snapshot.terminal_state, snapshot.auth_required) == ("auth_failed", "", True)
    assert "rejected the saved credentials" in snapshot.error_message
    assert AgentCredential.objects.get(agent=agent).last_result == "auth_failed"


def test_a_redirect_to_another_origin_carries_no_credential(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.leaky)
    client.put(_path(agent), {"scheme": "bearer", "token": BEARER_TOKEN}, format="json")
    walls.seen_elsewhere.clear()
    _crawl(agent)
    assert walls.seen_elsewhere, "the redirect was followed"
    assert not any(BEARER_TOKEN in value for headers in walls.seen_elsewhere for value in headers.values())
    assert not any("authorization" in headers for headers in walls.seen_elsewhere)


def test_secrets_never_appear_in_logs_pages_messages_or_the_database(
    db: None, walls: LoginWalls, caplog: pytest.LogCaptureFixture
) -> None:
    agent, client = _owned(walls.oauth)
    secret = OAUTH_SECRET
    caplog.set_level(logging.DEBUG)
    client.put(_path(agent), {**BODIES["oauth"](walls), "client_secret": secret + "-wrong"}, format="json")
    _crawl(agent)
    staff = Client()
    staff.force_login(make_staff())
    responses = [
        staff.get(f"/admin/registry/agent/{agent.pk}/change/"),
        staff.get("/admin/credentials/credentialchange/"),
        client.get(_path(agent)),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    bodies = [r.getvalue().decode() for r in responses]
    assert "OAuth client credentials set by" in bodies[0]
    pages = [
        *bodies,
        str(CapabilitySnapshot.objects.filter(agent=agent).values().get()),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed FROM crawler_agentcredential WHERE agent_id = %s", [agent.pk])
        [(raw,)] = cursor.fetchall()
    for text in [caplog.text, *pages, raw]:
        assert secret not in text
    assert "client_id" not in raw  # sealed, not merely the secret field left out


def test_keys_rotate_and_every_credential_stays_readable(db: None, walls: LoginWalls) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(AGENT_CREDENTIAL_KEYS=[old]):
        agent, client = _owned(walls.bearer)
        client.put(_path(agent), BODIES["bearer"](walls), format="json")
    with override_settings(AGENT_CREDENTIAL_KEYS=[new, old]):
        call_command("rotate_agent_credentials", verbosity=0)
    with override_settings(AGENT_CREDENTIAL_KEYS=[new]):  # the old key is gone
        cache.clear()
        assert _crawl(agent).inferred_type == "sales"


@pytest.mark.parametrize(
    "who, public, status",
    [
        ("stranger", True, 403),
        ("stranger", False, 404),
        ("staff", False, 204),
        ("staff who may change agents", False, 204),
        # As in the admin: being staff is not enough to handle owners' secrets.
        ("staff who may only view agents", True, 403),
        ("staff who may only view agents", False, 404),
        ("anonymous", True, 401),
    ],
)
def test_who_may_save_credentials(db: None, walls: LoginWalls, who: str, public: bool, status: int) -> None:
    agent, _ = _owned(walls.bearer, public=public)
    client = APIClient()
    if who == "stranger":
        client.force_authenticate(User.objects.create_user("eve"))
    elif who == "staff":
        client.force_authenticate(make_staff())
    elif who.startswith("staff who"):
        codename = "change_agent" if "change" in who else "view_agent"
        client.force_authenticate(make_staff("vic", superuser=False, permissions=(codename,)))
    for method in ("put", "get", "delete"):
        response = getattr(client, method)(_path(agent), BODIES["bearer"](walls), format="json")
        assert response.status_code == (200 if method == "get" and status == 204 else status), method


def test_unregistering_removes_the_credentials_and_says_so(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.bearer)
    client.put(_path(agent), BODIES["bearer"](walls), format="json")
    unregister_agents(MemberAgent.objects.filter(agent=agent), actor="owner0")
    assert not AgentCredential.objects.filter(agent=agent).exists()
    latest = CredentialChange.objects.filter(agent_url=agent.url).first()
    assert latest is not None and (latest.action, latest.actor) == ("remove", "owner0")
    # Whoever registers the URL next is not sent the previous owner's secret.
    register(make_profile("newcomer"), Agent.objects.get(pk=agent.pk), "sales")
    assert _crawl(agent).error_kind == "auth_required"


def test_an_unregistered_url_is_404_and_bad_bodies_name_the_field(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.bearer)
    unknown = client.put("/api/registry/agents/https%3A%2F%2Fnobody.example.com%2Fmcp/credentials", {}, format="json")
    assert unknown.status_code == 404
    for body, field in [
        ({"scheme": "basic"}, "scheme"),
        ({"scheme": "bearer"}, "token"),
        ({"scheme": "header", "name": "Host", "value": "x"}, "name"),
        ({"scheme": "header", "name": "X-Key", "value": "a\r\nb"}, "value"),
        ({"scheme": "oauth_client_credentials", "client_id": "c", "client_secret": "s", "token_url": "ftp://x"},
         "token_url"),
    ]:  # fmt: skip
        response = client.put(_path(agent), body, format="json")
        assert response.status_code == 400 and field in response.json()["fields"], (body, response.content)


def test_changes_are_recorded_without_the_secret_and_delete_removes(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.bearer)
    client.put(_path(agent), BODIES["bearer"](walls), format="json")
    client.put(_path(agent), BODIES["bearer"](walls), format="json")
    assert client.delete(_path(agent)).status_code == 204
    assert client.get(_path(agent)).status_code == 404
    assert list(CredentialChange.objects.order_by("id").values_list("action", flat=True)) == [
        "set",
        "replace",
        "remove",
    ]
    with pytest.raises(Exception, match="cannot be deleted"):
        CredentialChange.objects.all().delete()


def test_staff_clear_credentials_from_the_admin_and_the_change_is_recorded(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.bearer)
    client.put(_path(agent), BODIES["bearer"](walls), format="json")
    staff = Client()
    staff.force_login(make_staff("rita"))
    response = staff.post(
        "/admin/registry/agent/", {"action": "clear_credentials", "_selected_action": [agent.pk]}, follow=True
    )
    assert "Saved credentials cleared for 1 agent." in response.getvalue().decode()
    assert not AgentCredential.objects.filter(agent=agent).exists()
    assert CredentialChange.objects.values_list("action", "actor").first() == ("remove", "rita")


def test_the_owner_sees_why_saved_credentials_were_rejected(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.header)
    client.put(_path(agent), {"scheme": "header", "name": "X-Api-Key", "value": "wrong-key-9d2"}, format="json")
    _crawl(agent)
    slug = agent.registration.profile.slug
    [document] = client.get("/api/me/member-profile", {"profile": slug}).json()["agents"]
    assert document["auth_required"] is True
    assert document["probe_error"]["kind"] == "auth_failed"
    assert "an X-Api-Key is required" in document["probe_error"]["message"]  # the agent's own words
    assert "wrong-key-9d2" not in str(document)


def test_refresh_and_reprobe_sign_in_with_saved_credentials(db: None, walls: LoginWalls) -> None:
    from crawler.reprobe import probe_and_plan, select_unknown_agents
    from probe import ProbeLimits

    agent, client = _owned(walls.bearer)
    client.put(_path(agent), BODIES["bearer"](walls), format="json")
    [entry] = probe_and_plan(select_unknown_agents([agent.url]), ProbeLimits.from_settings(deadline=5)).entries
    assert entry.result.ok and entry.result.tool_names == ["get_products", "create_media_buy"]
    cache.clear()
    response = client.post(f"/api/registry/agents/{quote(agent.url, safe='')}/refresh")
    assert response.status_code == 200 and response.json()["inferred_type"] == "sales"


def _oauth(walls: LoginWalls, **fields: str) -> dict[str, str]:
    return {**BODIES["oauth"](walls), **fields}


def test_a_token_is_never_handed_to_another_saved_credential(db: None, walls: LoginWalls) -> None:
    victim, victim_client = _owned(walls.oauth)
    victim_client.put(_path(victim), _oauth(walls, token_url=walls.token_url), format="json")
    assert _crawl(victim).inferred_type == "sales"  # the victim's token is cached now
    attacker, attacker_client = _owned(walls.attacker)
    # The victim's client id and token endpoint, with a guessed secret.
    attacker_client.put(
        _path(attacker), _oauth(walls, token_url=walls.token_url, client_secret="guess-1"), format="json"
    )
    walls.attacker_saw.clear()
    snapshot = _crawl(attacker)
    assert snapshot.error_kind == "auth_failed"
    assert not any(token in seen for token in walls.tokens_issued for seen in walls.attacker_saw)


@pytest.mark.parametrize(
    "agent, why",
    [
        ("offsite", "the token endpoint is on neither the issuer's origin nor the agent's"),
        ("impostor", "names another issuer"),
    ],
)
def test_the_client_secret_goes_to_no_token_endpoint_the_agents_metadata_cannot_vouch_for(
    db: None, walls: LoginWalls, agent: str, why: str
) -> None:
    owned, client = _owned(getattr(walls, agent))
    client.put(_path(owned), BODIES["oauth"](walls), format="json")
    walls.secrets_received.clear()
    snapshot = _crawl(owned)
    assert (snapshot.error_kind, why in snapshot.error_message) == ("auth_failed", True), snapshot.error_message
    assert walls.secrets_received == []


def test_a_token_endpoint_that_redirects_is_not_sent_the_secret_again(db: None, walls: LoginWalls) -> None:
    owned, client = _owned(walls.attacker)
    client.put(_path(owned), _oauth(walls, token_url=walls.redirecting_token_url), format="json")
    walls.secrets_received.clear()
    snapshot = _crawl(owned)
    assert snapshot.error_kind == "auth_failed" and "redirected" in snapshot.error_message
    assert walls.secrets_received == []


def test_a_token_the_agent_no_longer_accepts_is_replaced_not_reused(db: None, walls: LoginWalls) -> None:
    agent, client = _owned(walls.oauth)
    client.put(_path(agent), _oauth(walls, token_url=walls.token_url), format="json")
    assert _crawl(agent).inferred_type == "sales"
    walls.revoke_all()  # the authorization server revokes every token it issued
    issued = len(walls.tokens_issued)
    cache.clear()
    snapshot = _crawl(agent)
    assert (snapshot.error_kind, snapshot.inferred_type) == ("", "sales"), snapshot.error_message
    assert len(walls.tokens_issued) == issued + 1


@pytest.mark.parametrize("value", [HEADER_SECRET, "wrong-key-with-a-long-tail-" + "z" * 40])
def test_a_secret_echoed_with_altered_whitespace_is_masked_everywhere_it_is_kept(
    db: None, walls: LoginWalls, value: str
) -> None:
    agent, client = _owned(walls.echo)
    client.put(_path(agent), {"scheme": "header", "name": "X-Api-Key", "value": value}, format="json")
    snapshot = _crawl(agent)
    kept = " ".join(
        [snapshot.error_message, json.dumps(snapshot.tools), json.dumps(client.get("/api/me/member-profile").json())]
    )
    assert "[credential]" in kept
    squeezed = re.sub(r"\s|\\u0000", "", kept)
    assert value not in squeezed and value[5:] not in squeezed
