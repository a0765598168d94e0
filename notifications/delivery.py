"""The outbox (``audit.Notice``) delivered by email and signed webhooks.

* **Dispatch**: each notice in the outbox becomes deliveries, per the member
  profile's choices: an email to each owner (now, or with the next daily digest)
  and a POST to each webhook endpoint that wants that kind of event.
* **Email**: every due email to one address goes as one message, so a burst
  (a backfill of 1,000 flips) is one digest per owner, not 1,000 messages.
* **Webhooks**: JSON signed with HMAC-SHA256 over ``"<timestamp>.<body>"``
  (``X-Registry-Signature: t=<timestamp>,v1=<hex>``, the Stripe scheme) with the
  event id as ``Idempotency-Key``; sent with ``requests`` (5 s timeout, no
  redirects followed, the probes' address policy, request and response capped).
* **At least once**: a failed delivery is retried with exponential backoff for a
  day, then marked failed (shown in the admin and to the owner).

Runs as a job on the ``notifications`` queue after every commit that wrote notices
(inline without Redis), and from ``manage.py deliver_notifications`` / the cron for
retries and digests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.models import Notice, NoticeKind
from config.queues import JobQueueUnavailable, enqueue
from members.models import MemberProfile
from notifications.models import Delivery, NotificationSettings, WebhookEndpoint
from probe.netsafety import AddressPolicy, BlockedAddressError, check_url_target

logger = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"
# One run sends at most BATCH emails and webhooks, each webhook within its timeout.
DELIVERY_JOB_TIMEOUT = 10 * 60
WEBHOOK_TIMEOUT = 5.0
RESPONSE_LIMIT = 4096
BATCH = 5000


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Registry-Signature`` value: ``t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<body>">``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _next_digest(now: datetime) -> datetime:
    due = now.replace(hour=settings.DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def dispatch_outbox(now: datetime | None = None) -> int:
    """Turn waiting notices into deliveries; returns how many notices were dispatched."""
    now = now or timezone.now()
    with transaction.atomic():
        notices = list(
            Notice.objects.select_for_update(skip_locked=True).filter(dispatched_at__isnull=True).order_by("pk")[:BATCH]
        )
        if not notices:
            return 0
        slugs = {n.member for n in notices if n.member}
        profiles = {
            p.slug: p for p in MemberProfile.objects.filter(slug__in=slugs).prefetch_related("owners", "webhooks")
        }
        choices = {s.profile_id: s for s in NotificationSettings.objects.filter(profile__slug__in=slugs)}
        deliveries: list[Delivery] = []
        for notice in notices:
            profile = profiles.get(notice.member or "")
            if profile is None:
                continue
            chosen = choices.get(profile.pk) or NotificationSettings(profile=profile)
            if notice.kind in chosen.email_kinds:
                when = now if chosen.email_mode == NotificationSettings.EmailMode.EACH_EVENT else _next_digest(now)
                deliveries += [
                    Delivery(notice=notice, channel=Delivery.Channel.EMAIL, email=owner.email, next_attempt_at=when)
                    for owner in profile.owners.all()
                    if owner.email
                ]
            deliveries += [
                Delivery(notice=notice, channel=Delivery.Channel.WEBHOOK, webhook=endpoint, next_attempt_at=now)
                for endpoint in profile.webhooks.all()
                if notice.kind in endpoint.kinds
            ]
        Delivery.objects.bulk_create(deliveries)
        Notice.objects.filter(pk__in=[n.pk for n in notices]).update(dispatched_at=now)
    return len(notices)


def _line(notice: Notice) -> str:
    payload = notice.payload
    if notice.kind == NoticeKind.DISAGREEMENT:
        change = f"(published {payload.get('old_type')}, the probe says {payload.get('new_type')}; not applied)"
    elif payload.get("new_type"):
        change = f"{payload.get('old_type')} -> {payload.get('new_type')}"
    else:
        change = ""
    return f"- {NoticeKind(notice.kind).label}: {notice.agent_url} {change}".rstrip()


def send_due_emails(now: datetime | None = None) -> int:
    """One message per address for everything due to it; returns messages sent."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(
            channel=Delivery.Channel.EMAIL, status=Delivery.Status.PENDING, next_attempt_at__lte=now
        ).select_related("notice")[:BATCH]
    )
    by_address: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in due:
        by_address[delivery.email].append(delivery)
    sent = 0
    for address, deliveries in by_address.items():
        notices = [d.notice for d in deliveries]
        subject = (
            f"Agent registry: {_line(notices[0])[2:]}"
            if len(notices) == 1
            else f"Agent registry: {len(notices)} events about your agents"
        )
        body = "\n".join(_line(n) for n in notices) + "\n\nSee your profile: /api/me/member-profile\n"
        try:
            send_mail(subject[:200], body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception as exc:  # the mail server's own errors; retried
            for delivery in deliveries:
                delivery.retry_or_fail(now, f"{type(exc).__name__}: {exc}")
        else:
            sent += 1
            for delivery in deliveries:
                delivery.mark_sent(now)
        # Recorded right after its message, not once at the end: a job that dies
        # midway has not sent anything it will send again.
        Delivery.objects.bulk_update(
            deliveries, ["status", "sent_at", "attempts", "next_attempt_at", "last_error", "last_status_code"]
        )
    return sent


def webhook_body(notice: Notice) -> bytes:
    return json.dumps(
        {
            "id": str(notice.event_id),
            "kind": notice.kind,
            "agent_url": notice.agent_url,
            "member": notice.member,
            "created_at": notice.created_at.isoformat(),
            "payload": notice.payload,
        },
        sort_keys=True,
    ).encode()


def deliver_webhook(delivery: Delivery, now: datetime | None = None) -> None:
    """One attempt; the delivery row records what came of it."""
    now = now or timezone.now()
    endpoint: WebhookEndpoint = delivery.webhook  # type: ignore[assignment]  # a webhook delivery has one
    body = webhook_body(delivery.notice)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "AdCP-Agent-Registry-Webhooks/1.0",
        "Idempotency-Key": str(delivery.notice.event_id),
        "X-Registry-Signature": sign(endpoint.secret, timestamp, body),
    }
    started = time.monotonic()
    try:
        check_url_target(endpoint.url, AddressPolicy.from_settings())
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as response:
            response.raw.read(RESPONSE_LIMIT, decode_content=False)
            status_code = response.status_code
    except BlockedAddressError as exc:
        delivery.fail(f"blocked: {exc}")
    except requests.RequestException as exc:
        delivery.retry_or_fail(now, f"{type(exc).__name__}")
    else:
        delivery.latency_ms = round((time.monotonic() - started) * 1000)
        if 200 <= status_code < 300:
            delivery.mark_sent(now, status_code)
        else:
            delivery.retry_or_fail(now, f"HTTP {status_code}", status_code)
    delivery.save()


def deliver_due_webhooks(now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(
            channel=Delivery.Channel.WEBHOOK, status=Delivery.Status.PENDING, next_attempt_at__lte=now
        ).select_related("notice", "webhook")[:BATCH]
    )
    for delivery in due:
        deliver_webhook(delivery, now)
    return len(due)


def deliver_notifications() -> dict[str, int]:
    """Dispatch the outbox and send whatever is due (the job, the command, the cron)."""
    now = timezone.now()
    return {
        "dispatched": dispatch_outbox(now),
        "emails": send_due_emails(now),
        "webhooks": deliver_due_webhooks(now),
    }


def staff_digest(now: datetime | None = None) -> bool:
    """New disagreements, agents given up and deliveries failed in the last day, to REGISTRY_STAFF_EMAILS."""
    now = now or timezone.now()
    if not settings.REGISTRY_STAFF_EMAILS:
        return False
    since = now - timedelta(days=1)
    notices = Notice.objects.filter(created_at__gte=since, kind__in=[NoticeKind.DISAGREEMENT, NoticeKind.GIVEN_UP])
    failed = Delivery.objects.filter(status=Delivery.Status.FAILED, next_attempt_at__gte=since)
    lines = [_line(n) for n in notices.order_by("created_at")[:500]]
    lines += [f"- delivery failed: {d}" for d in failed[:200]]
    if not lines:
        return False
    send_mail(
        f"Agent registry: {len(lines)} items for staff since yesterday",
        "\n".join(lines) + "\n",
        settings.DEFAULT_FROM_EMAIL,
        list(settings.REGISTRY_STAFF_EMAILS),
    )
    return True


def on_notices_committed(**kwargs: Any) -> None:
    """Deliver soon after a commit that wrote notices: a job, or inline without Redis."""
    try:
        enqueue(NOTIFICATIONS_QUEUE, deliver_notifications, timeout=DELIVERY_JOB_TIMEOUT)
    except JobQueueUnavailable:
        logger.warning("notices wait in the outbox: the job queue is unavailable")
