"""Owners and staff hear about every type event: an outbox written with the change,
delivered by email and signed webhooks, at least once."""

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from django.contrib.auth.models import User
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from audit.models import Notice, Source, TypeEvent, record
from crawler.policy import apply_probe_results
from members.backfill import apply_backfill, plan_backfill
from members.models import MemberAgent, MemberProfile
from members.registration import Registration, register_agents
from notifications.delivery import deliver_due_webhooks, deliver_notifications
from notifications.models import Delivery, NotificationSettings
from probe import ProbeResult
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, register
from tests.servers import AiohttpServerThread, closed_port


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks each signature, as the README shows."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0

    async def hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        parts = dict(p.split("=", 1) for p in request.headers["X-Registry-Signature"].split(","))
        expected = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        self.received.append(
            {
                "key": request.headers["Idempotency-Key"],
                "verified": hmac.compare_digest(expected, parts["v1"]),
                "event": json.loads(body),
            }
        )
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        return web.Response(status=204)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hooks.hook)
    with AiohttpServerThread(app) as server:
        yield hooks, f"{server.base_url}/hook"


@pytest.fixture
def owned() -> tuple[MemberProfile, APIClient]:
    owner = User.objects.create_user("olga", email="olga@example.com")
    profile = make_profile("acme")
    profile.owners.add(owner)
    client = APIClient()
    client.force_authenticate(owner)
    return profile, client


def _promote(profile: MemberProfile) -> Agent:
    agent = make_agent("https://sales.example.com/mcp")
    register(profile, agent, "sales")
    Agent.objects.filter(pk=agent.pk).update(type="unknown")
    apply_probe_results([(agent.pk, ProbeResult(url=agent.url, protocol="mcp", tool_names=["get_products"]))])
    return agent


def test_an_event_whose_transaction_rolls_back_is_never_announced(db: None) -> None:
    with pytest.raises(RuntimeError, match="rolled back"), transaction.atomic():
        record(TypeEvent(agent_url="https://a.example.com/mcp", new_type="sales", source=Source.REPROBE))
        raise RuntimeError("rolled back")
    assert not Notice.objects.exists()
    deliver_notifications()
    assert not Delivery.objects.exists()


def test_a_committed_event_is_delivered_once_signed_and_again_with_its_key_after_a_500(
    db: None, owned: tuple[MemberProfile, APIClient], receiver: tuple[Receiver, str]
) -> None:
    profile, client = owned
    hooks, url = receiver
    created = client.post("/api/me/member-profile/webhooks", {"url": url, "kinds": ["promoted"]}, format="json")
    assert created.status_code == 201
    hooks.secret, hooks.received[:] = created.json()["secret"], []
    assert "secret" not in client.get("/api/me/member-profile/webhooks").json()[0]  # shown once

    _promote(profile)
    hooks.fail_next = 1
    deliver_notifications()
    [delivery] = Delivery.objects.filter(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)

    deliver_due_webhooks(now=timezone.now() + timedelta(minutes=1))  # the retry comes due
    deliver_notifications()  # and nothing is sent twice once it succeeded
    first, second = hooks.received
    assert first["key"] == second["key"] == first["event"]["id"]
    assert first["verified"] and second["verified"]
    assert first["event"]["kind"] == "promoted" and first["event"]["payload"]["new_type"] == "sales"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.latency_ms is not None) == ("sent", 2, True)
    [listed] = client.get("/api/me/member-profile/webhooks").json()
    assert [d["status"] for d in listed["deliveries"]] == ["sent"]


def test_a_receiver_that_never_answers_is_retried_for_a_day_then_failed(
    db: None, owned: tuple[MemberProfile, APIClient]
) -> None:
    profile, client = owned
    silent = {"url": f"http://127.0.0.1:{closed_port()}/hook", "kinds": ["promoted"]}
    client.post("/api/me/member-profile/webhooks", silent, format="json")
    _promote(profile)
    deliver_notifications()
    [delivery] = Delivery.objects.filter(channel="webhook")
    moments = []
    # 30 s doubling reaches a day after 12 attempts: a missing give-up fails here, not by date overflow.
    for _ in range(13):
        if delivery.status != "pending":
            break
        moments.append(delivery.next_attempt_at)
        deliver_due_webhooks(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == len(moments) + 1 <= 13
    gaps = [later - earlier for earlier, later in zip(moments, moments[1:], strict=False)]
    assert all(b == 2 * a for a, b in zip(gaps, gaps[1:], strict=False))  # exponential backoff
    assert moments[-1] - delivery.created_at <= timedelta(days=1)


@override_settings(AGENT_PROBE_ALLOW_PRIVATE=False)
def test_a_webhook_on_a_private_address_is_refused_in_production(
    db: None, owned: tuple[MemberProfile, APIClient]
) -> None:
    profile, client = owned
    plain = client.post("/api/me/member-profile/webhooks", {"url": "http://hooks.example.com/x"}, format="json")
    assert plain.status_code == 400 and "https://" in str(plain.json())
    private = {"url": "https://127.0.0.1/hook", "kinds": ["promoted"]}
    assert client.post("/api/me/member-profile/webhooks", private, format="json").status_code == 201
    _promote(profile)
    deliver_notifications()
    [delivery] = Delivery.objects.filter(channel="webhook")
    assert delivery.status == "failed" and delivery.last_error.startswith("blocked")


@override_settings(REDIS_URL="")
def test_a_backfill_of_1000_flips_sends_one_email_per_owner(
    db: None, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    profile = make_profile("bulk")
    for name in ("ann", "bob"):
        profile.owners.add(User.objects.create_user(name, email=f"{name}@example.com"))
    NotificationSettings.objects.create(profile=profile, email_kinds=["backfilled"])
    register_agents(profile, [Registration(f"https://a{i}.example.com/mcp", "buying") for i in range(1000)])
    CapabilitySnapshot.objects.bulk_create(
        CapabilitySnapshot(agent_id=pk, inferred_type="sales", probed_at=timezone.now())
        for pk in MemberAgent.objects.values_list("agent_id", flat=True)
    )
    plan = plan_backfill()
    assert len(plan.changes) == 1000
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        apply_backfill(plan, actor="ops")
    assert mail.outbox == []  # without Redis, the command that wrote them does not deliver them
    deliver_notifications()
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    assert all("1000 events" in m.subject for m in mail.outbox)
    assert Delivery.objects.filter(channel="email", status="sent").count() == 2000


def test_owners_choose_what_reaches_them_by_email(db: None, owned: tuple[MemberProfile, APIClient]) -> None:
    profile, client = owned
    assert client.get("/api/me/member-profile/notifications").json()["email_kinds"] == [
        "disagreement",
        "adopted",
        "kept",
        "given_up",
        "auth_required",
        "went_offline",
        "back_online",
        "host_unverified",
    ]
    _promote(profile)  # a promotion is not among the defaults
    mail.outbox.clear()
    deliver_notifications()
    assert mail.outbox == []
    chosen = client.put(
        "/api/me/member-profile/notifications", {"email_kinds": ["promoted"], "email_mode": "each_event"}, format="json"
    )
    assert chosen.status_code == 200
    Agent.objects.filter(url="https://sales.example.com/mcp").update(type="unknown")
    agent = Agent.objects.get(url="https://sales.example.com/mcp")
    apply_probe_results([(agent.pk, ProbeResult(url=agent.url, protocol="mcp", tool_names=["get_products"]))])
    deliver_notifications()
    [message] = mail.outbox
    assert message.to == ["olga@example.com"] and "Type promoted" in message.subject
    bad = client.put(
        "/api/me/member-profile/notifications", {"email_kinds": ["nope"], "email_mode": "x"}, format="json"
    )
    assert bad.status_code == 400 and {"email_kinds", "email_mode"} <= set(bad.json()["fields"])


def test_give_ups_and_login_walls_are_announced_once(db: None) -> None:
    agent = make_agent()
    for _ in range(12):
        apply_probe_results([(agent.pk, ProbeResult(url=agent.url, protocol="mcp", error_kind="timeout"))])
    walled = make_agent()
    for _ in range(3):
        apply_probe_results([(walled.pk, ProbeResult(url=walled.url, protocol="mcp", error_kind="auth_required"))])
    assert sorted(Notice.objects.values_list("kind", "agent_url")) == sorted(
        [("given_up", agent.url), ("auth_required", walled.url)]
    )


def test_a_staff_digest_lists_new_disagreements_and_give_ups(db: None) -> None:
    from notifications.delivery import staff_digest

    agent = make_agent()
    for _ in range(12):
        apply_probe_results([(agent.pk, ProbeResult(url=agent.url, protocol="mcp", error_kind="timeout"))])
    mail.outbox.clear()
    with override_settings(REGISTRY_STAFF_EMAILS=["staff@example.com"]):
        assert staff_digest()
    [message] = mail.outbox
    assert message.to == ["staff@example.com"] and agent.url in message.body


def test_the_command_delivers_what_is_due(db: None, owned: tuple[MemberProfile, APIClient]) -> None:
    from io import StringIO

    from django.core.management import call_command

    profile, client = owned
    client.put("/api/me/member-profile/notifications", {"email_kinds": ["promoted"], "email_mode": "each_event"})
    _promote(profile)
    out = StringIO()
    mail.outbox.clear()
    call_command("deliver_notifications", stdout=out)
    # the registration, its member write and the promotion; only the promotion is emailed
    assert out.getvalue().strip() == "3 notices dispatched, 1 emails sent, 0 webhook deliveries attempted."
    assert len(mail.outbox) == 1


def test_staff_add_an_endpoint_in_the_admin_and_see_its_secret_once(db: None) -> None:
    from django.test import Client

    from notifications.models import WebhookEndpoint
    from tests.factories import make_staff

    profile = make_profile("acme")
    client = Client()
    client.force_login(make_staff())
    page = (
        client.post(
            "/admin/notifications/webhookendpoint/add/",
            {"profile": profile.pk, "url": "https://hooks.example.com/x", "kinds": '["promoted"]'},
            follow=True,
        )
        .getvalue()
        .decode()
    )
    endpoint = WebhookEndpoint.objects.get()
    secret = endpoint.signing_secret
    assert secret.startswith("whsec_") and secret in page
    assert secret not in endpoint.sealed_secret  # sealed at rest
    # Shown on the page itself, never through a message, whose storage is a cookie.
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    change_page = client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/")
    assert secret not in change_page.getvalue().decode()


def test_the_staff_digest_counts_what_it_does_not_list(db: None) -> None:
    from notifications.delivery import DIGEST_LISTED, staff_digest

    Notice.objects.bulk_create(
        Notice(kind="disagreement", agent_url=f"https://a{i}.example.com/mcp", payload={}) for i in range(250)
    )
    mail.outbox.clear()
    with override_settings(REGISTRY_STAFF_EMAILS=["staff@example.com"]):
        assert staff_digest()
    [message] = mail.outbox
    assert message.subject == "Agent registry: 250 items for staff since yesterday"
    assert message.body.count("\n- ") + 1 == DIGEST_LISTED + 1
    assert "and 50 more disagreements and give-ups" in message.body


def test_email_kinds_are_kept_once_each_and_bounded(db: None, owned: tuple[MemberProfile, APIClient]) -> None:
    _, client = owned
    path = "/api/me/member-profile/notifications"
    chosen = client.put(path, {"email_kinds": ["kept", "adopted", "kept"], "email_mode": "each_event"}, format="json")
    assert chosen.json()["email_kinds"] == ["adopted", "kept"]
    flood = client.put(path, {"email_kinds": ["kept"] * 200_000, "email_mode": "each_event"}, format="json")
    assert flood.status_code == 400 and "email_kinds" in flood.json()["fields"]


@override_settings(REGISTRY_PUBLIC_URL="https://registry.example.org/")
def test_an_owners_email_links_to_the_profile_absolutely(db: None, owned: tuple[MemberProfile, APIClient]) -> None:
    profile, client = owned
    client.put(
        "/api/me/member-profile/notifications", {"email_kinds": ["promoted"], "email_mode": "each_event"}, format="json"
    )
    _promote(profile)
    mail.outbox.clear()
    deliver_notifications()
    [message] = mail.outbox
    assert "See your profile: https://registry.example.org/api/me/member-profile" in message.body
