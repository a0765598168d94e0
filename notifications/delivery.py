"""The outbox (``audit.Notice``) delivered by email and signed webhooks.

* **Dispatch**: each notice in the outbox becomes deliveries, per the member
  profile's choices: an email to each owner (now, or with the next daily digest)
  and a POST to each webhook endpoint that wants that kind of event.
* **Email**: every due email to one address goes as one message, so a burst
  (a backfill of 1,000 flips) is one digest per owner, not 1,000 messages.
* **Webhooks**: JSON signed with HMAC-SHA256 over ``"<timestamp>.<body>"``
  (``X-Registry-Signature: t=<timestamp>,v1=<hex>``, the Stripe scheme) with the
  event id as ``Idempotency-Key``; posted through ``probe.outbound`` (one 5 s
  deadline per attempt for connect, send and read together, ten in flight, no
  redirects followed, the probes' address rules with the connection pinned to the
  checked address, 4 KiB of the answer read).
* **Exactly one sender**: a run claims the deliveries it sends (SKIP LOCKED and a
  lease), so two runs at once never send one twice.
* **At least once**: a failed delivery is retried with exponential backoff for a
  day, then marked failed (shown in the admin and to the owner).

Runs as a job on the ``notifications`` queue after every commit that wrote notices,
and from ``manage.py deliver_notifications`` / the cron for retries and digests.
Without Redis nothing is delivered inside the request or command that wrote the
notices: ``deliver_notifications --every N`` (which ``bin/run`` starts) sends them.
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

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.models import Notice, NoticeKind
from config.queues import JobQueueUnavailable, enqueue, jobs_are_inline
from members.models import MemberProfile
from notifications.models import Delivery, NotificationSettings, WebhookEndpoint
from probe.netsafety import AddressPolicy
from probe.outbound import OutboundLimits, Post, Posted, post_many

logger = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"
DELIVERY_JOB_TIMEOUT = 10 * 60
BATCH = 5000
DIGEST_LISTED = 200
# What a delivery attempt records.
RECORDED = ["status", "sent_at", "attempts", "next_attempt_at", "last_error", "last_status_code"]
# Emails due to one address go as one message; a run claims them all at once.
EMAIL_LEASE = timedelta(seconds=DELIVERY_JOB_TIMEOUT)
# Webhooks: one total deadline per attempt (connect, send, read), many in flight;
# a batch takes at most WEBHOOK_BATCH / WEBHOOKS_IN_FLIGHT deadlines, well within its lease.
WEBHOOK_DEADLINE = 5.0
WEBHOOKS_IN_FLIGHT = 10
WEBHOOK_BATCH = 100
WEBHOOK_LEASE = timedelta(minutes=5)
RESPONSE_LIMIT = 4096


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
    due = Delivery.objects.claim(Delivery.Channel.EMAIL, now, lease=EMAIL_LEASE, limit=BATCH)
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
        profile = f"{settings.REGISTRY_PUBLIC_URL.rstrip('/')}/api/me/member-profile"
        body = "\n".join(_line(n) for n in notices) + f"\n\nSee your profile: {profile}\n"
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
        Delivery.objects.bulk_update(deliveries, RECORDED)
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


def _webhook_post(delivery: Delivery, timestamp: int) -> Post:
    endpoint: WebhookEndpoint = delivery.webhook  # type: ignore[assignment]  # a webhook delivery has one
    body = webhook_body(delivery.notice)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(delivery.notice.event_id),
        "X-Registry-Signature": sign(endpoint.signing_secret, timestamp, body),
    }
    return Post(endpoint.url, body, headers)


def _record(delivery: Delivery, posted: Posted, now: datetime) -> None:
    delivery.latency_ms = posted.latency_ms
    if posted.blocked:
        delivery.fail(posted.error)
    elif posted.status is None:
        delivery.retry_or_fail(now, posted.error)
    elif 200 <= posted.status < 300:
        delivery.mark_sent(now, posted.status)
    else:
        delivery.retry_or_fail(now, f"HTTP {posted.status}", posted.status)


def deliver_due_webhooks(now: datetime | None = None) -> int:
    """Post every due webhook delivery, many at once, each within one total deadline;
    returns how many were attempted."""
    now = now or timezone.now()
    limits = OutboundLimits(
        deadline=WEBHOOK_DEADLINE,
        concurrency=WEBHOOKS_IN_FLIGHT,
        response_limit=RESPONSE_LIMIT,
        address_policy=AddressPolicy.from_settings(),
        nameservers=tuple(settings.AGENT_PROBE_NAMESERVERS),
    )
    attempted = 0
    while batch := Delivery.objects.claim(Delivery.Channel.WEBHOOK, now, lease=WEBHOOK_LEASE, limit=WEBHOOK_BATCH):
        timestamp = int(time.time())
        answers = post_many([_webhook_post(d, timestamp) for d in batch], limits)
        for delivery, posted in zip(batch, answers, strict=True):
            _record(delivery, posted, now)
        Delivery.objects.bulk_update(batch, [*RECORDED, "latency_ms"])
        attempted += len(batch)
    return attempted


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
    events, failures = notices.count(), failed.count()
    if not events + failures:
        return False
    # Listed up to a cap each, counted beyond it: a flood stays one readable message.
    lines = [_line(n) for n in notices.order_by("created_at")[:DIGEST_LISTED]]
    if events > DIGEST_LISTED:
        lines.append(f"- and {events - DIGEST_LISTED} more disagreements and give-ups (Audit > Notices)")
    lines += [f"- delivery failed: {d}" for d in failed[:DIGEST_LISTED]]
    if failures > DIGEST_LISTED:
        lines.append(f"- and {failures - DIGEST_LISTED} more failed deliveries (Notifications > Deliveries)")
    send_mail(
        f"Agent registry: {events + failures} items for staff since yesterday",
        "\n".join(lines) + "\n",
        settings.DEFAULT_FROM_EMAIL,
        list(settings.REGISTRY_STAFF_EMAILS),
    )
    return True


def on_notices_committed(**kwargs: Any) -> None:
    """Deliver soon after a commit that wrote notices, in a worker: never in the
    request or command that wrote them (without Redis, ``deliver_notifications --every``)."""
    if jobs_are_inline():
        return
    try:
        enqueue(NOTIFICATIONS_QUEUE, deliver_notifications, timeout=DELIVERY_JOB_TIMEOUT)
    except JobQueueUnavailable:
        logger.warning("notices wait in the outbox: the job queue is unavailable")
