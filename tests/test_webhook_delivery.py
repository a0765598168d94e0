"""Webhook delivery against receivers on 127.0.0.1 that stall, redirect or are hit by two runs at once:
one slow member delays only itself, nothing is sent twice, no request waits on a delivery."""

import asyncio
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from django.contrib.auth.models import User
from django.db import connections
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import Notice
from crawler.policy import apply_probe_results
from members.models import MemberProfile
from notifications import delivery as delivery_module
from notifications.delivery import deliver_due_webhooks, deliver_notifications, dispatch_outbox
from notifications.models import MAX_WEBHOOKS, Delivery, WebhookEndpoint
from probe import ProbeResult
from registry.models import Agent
from tests.factories import make_agent, make_profile, register
from tests.servers import AiohttpServerThread


@dataclass
class Receivers:
    base: str
    drip: str = ""
    received: Counter[str] = field(default_factory=Counter)  # path -> POSTs that arrived
    redirected_to: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    got = Receivers(base="")

    async def quick(request: web.Request) -> web.StreamResponse:
        got.received[request.path] += 1
        return web.Response(status=204)

    async def slow(request: web.Request) -> web.StreamResponse:
        got.received[request.path] += 1
        await asyncio.sleep(0.5)
        return web.Response(status=204)

    async def redirect(request: web.Request) -> web.StreamResponse:
        got.received[request.path] += 1
        raise web.HTTPTemporaryRedirect(f"{got.base}/elsewhere")

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        got.redirected_to.append(await request.text())
        return web.Response(status=204)

    app = web.Application()
    for path, handler in {"/quick": quick, "/slow": slow, "/redirect": redirect}.items():
        app.router.add_post(path, handler)
    app.router.add_post("/elsewhere", elsewhere)
    with AiohttpServerThread(app) as server, dripping_server(got) as drip_base:
        got.base, got.drip = server.base_url, f"{drip_base}/drip"
        yield got


class _Drip(socketserver.BaseRequestHandler):
    """Answers its status line one byte every 0.5 s: no single read ever waits long."""

    received: Counter[str]

    def handle(self) -> None:
        self.request.recv(65536)
        self.received["/drip"] += 1
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                self.request.sendall(bytes([byte]))
                time.sleep(0.5)
        except OSError:  # the client gave up, as it should
            pass


@contextmanager
def dripping_server(got: Receivers) -> Iterator[str]:
    handler = type("Drip", (_Drip,), {"received": got.received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def profile() -> MemberProfile:
    owner = User.objects.create_user("olga", email="olga@example.com")
    profile = make_profile("acme")
    profile.owners.add(owner)
    return profile


def _hook(profile: MemberProfile, receivers: Receivers, path: str) -> WebhookEndpoint:
    url = receivers.drip if path == "/drip" else f"{receivers.base}{path}"
    endpoint, _ = WebhookEndpoint.add(profile, url, ["promoted"])
    return endpoint


def _promote(profile: MemberProfile, n: int = 1) -> None:
    for i in range(n):
        agent = make_agent(f"https://sales-{i}.example.com/mcp")
        register(profile, agent, "sales")
        Agent.objects.filter(pk=agent.pk).update(type="unknown")
        apply_probe_results([(agent.pk, ProbeResult(url=agent.url, protocol="mcp", tool_names=["get_products"]))])


def test_a_dripping_receiver_costs_one_deadline_and_delays_only_itself(
    db: None, profile: MemberProfile, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "WEBHOOK_DEADLINE", 1.0)
    _hook(profile, receivers, "/drip")
    for _ in range(3):
        _hook(profile, receivers, "/quick")
    _promote(profile)
    dispatch_outbox()
    began = time.monotonic()
    assert deliver_due_webhooks() == 4
    elapsed = time.monotonic() - began
    # Without a total deadline the drip alone would hold this run for 40 s.
    assert elapsed < 1.0 + 2.0
    statuses = dict(Delivery.objects.values_list("webhook__url", "status").distinct())
    assert statuses == {receivers.drip: "pending", f"{receivers.base}/quick": "sent"}
    dripped = Delivery.objects.get(webhook__url__endswith="/drip")
    assert (dripped.attempts, dripped.last_error) == (1, "no answer within 1 s")


def test_two_runs_at_once_send_each_delivery_once(
    transactional_db: None, receivers: Receivers, django_db_blocker: object
) -> None:
    profile = make_profile("acme")
    _hook(profile, receivers, "/slow")
    _promote(profile, n=30)
    dispatch_outbox()
    receivers.received.clear()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            deliver_due_webhooks()
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(timeout=60)
    assert errors == []
    assert receivers.received["/slow"] == 30
    assert Delivery.objects.filter(status="sent").count() == 30
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_a_redirect_is_not_followed_and_is_retried(db: None, profile: MemberProfile, receivers: Receivers) -> None:
    _hook(profile, receivers, "/redirect")
    _promote(profile)
    receivers.redirected_to.clear()
    deliver_notifications()
    assert receivers.redirected_to == []
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)


@override_settings(REDIS_URL="")
def test_no_member_request_waits_on_a_delivery(
    db: None, profile: MemberProfile, receivers: Receivers, django_capture_on_commit_callbacks: object
) -> None:
    WebhookEndpoint.add(profile, receivers.drip, ["member_write"])
    receivers.received.clear()
    client = APIClient()
    client.force_authenticate(profile.owners.get())
    body = {
        "slug": profile.slug,
        "display_name": profile.display_name,
        "agents": [{"url": "https://sales.example.com/mcp", "declared_type": "sales"}],
    }
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]  # pytest-django's fixture
        assert client.put("/api/me/member-profile", body, format="json").status_code == 200
    # The member's own write published a type and wrote its notice; delivering it is
    # the deliveries' worker's job, after the request: nothing reached the receiver.
    assert Notice.objects.filter(kind="member_write").count() == 1
    assert receivers.received["/drip"] == 0 and not Delivery.objects.exists()


def test_the_cap_on_webhook_endpoints_holds_under_concurrent_adds(transactional_db: None, receivers: Receivers) -> None:
    profile = make_profile("acme")
    barrier = threading.Barrier(12)
    created: list[str] = []

    def add() -> None:
        barrier.wait()
        try:
            WebhookEndpoint.add(profile, f"{receivers.base}/quick", ["promoted"])
            created.append("ok")
        except Exception as exc:
            created.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert WebhookEndpoint.objects.filter(profile=profile).count() == MAX_WEBHOOKS
    assert sorted(created) == ["TooManyWebhooks"] * 7 + ["ok"] * MAX_WEBHOOKS
