from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.utils import timezone

from audit.models import NoticeKind
from config import sealing

if TYPE_CHECKING:
    from members.models import MemberProfile

MAX_WEBHOOKS = 5
FIRST_RETRY = timedelta(seconds=30)
RETRY_FOR = timedelta(days=1)


class FeedKind(models.TextChoices):
    """The change feed's event kinds (notifications.feed maps each notice kind to one)."""

    REGISTERED = "agent.registered", "Listed: registered, or its profile made public"
    UNREGISTERED = "agent.unregistered", "No longer listed: unregistered, or its profile made private"
    TYPE_CHANGED = "agent.type_changed", "Its published type changed"
    DISAGREEMENT = "agent.disagreement", "The probe disagrees with its published type"
    REVIEW_KEPT = "agent.review_kept", "A reviewer kept its published type"
    WENT_OFFLINE = "agent.went_offline", "Stopped answering"
    BACK_ONLINE = "agent.back_online", "Answers again"
    GIVEN_UP = "agent.given_up", "No longer probed: given up"
    AUTH_REQUIRED = "agent.auth_required", "Behind a login"
    HOST_VERIFIED = "agent.host_verified", "Its host is on a domain its member proved"
    HOST_UNVERIFIED = "agent.host_unverified", "Its host is no longer on a proved domain"


def all_kinds() -> list[str]:
    return list(NoticeKind.values)


# By default owners are emailed about what needs them: disagreements, decisions, give-ups, login walls,
# outages, a lost domain proof.
DEFAULT_EMAIL_KINDS = (
    NoticeKind.DISAGREEMENT,
    NoticeKind.ADOPTED,
    NoticeKind.KEPT,
    NoticeKind.GIVEN_UP,
    NoticeKind.AUTH_REQUIRED,
    NoticeKind.WENT_OFFLINE,
    NoticeKind.BACK_ONLINE,
    NoticeKind.HOST_UNVERIFIED,
)


def default_email_kinds() -> list[str]:
    return [str(kind) for kind in DEFAULT_EMAIL_KINDS]


class NotificationSettings(models.Model):
    """What a member profile's owners are told, and how."""

    class EmailMode(models.TextChoices):
        EACH_EVENT = "each_event", "One message per event"
        DAILY_DIGEST = "daily_digest", "A daily digest"

    profile = models.OneToOneField(
        "members.MemberProfile", on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_kinds = models.JSONField(default=default_email_kinds, blank=True)
    email_mode = models.CharField(max_length=16, choices=EmailMode.choices, default=EmailMode.EACH_EVENT)

    class Meta:
        db_table = "members_notificationsettings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notifications of {self.profile.slug}"


class TooManyWebhooks(Exception):
    pass


class WebhookEndpoint(models.Model):
    """An HTTPS endpoint a member profile receives signed event deliveries at."""

    profile = models.ForeignKey("members.MemberProfile", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2048)
    # Signs deliveries (HMAC-SHA256); sealed (config.sealing), shown once, when the endpoint is created.
    sealed_secret = models.TextField(editable=False)
    kinds = models.JSONField(default=all_kinds, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "members_webhookendpoint"
        ordering = ["profile__slug", "url"]

    def __str__(self) -> str:
        return f"{self.profile.slug}: {self.url}"

    @classmethod
    def add(cls, profile: MemberProfile, url: str, kinds: list[str]) -> tuple[WebhookEndpoint, str]:
        """Add an endpoint within the profile's cap; returns it and its signing secret, in clear this once.

        Raises TooManyWebhooks; the profile row is locked, so concurrent adds cannot pass the cap together."""
        with transaction.atomic():
            type(profile).objects.select_for_update().filter(pk=profile.pk).first()
            if cls.objects.filter(profile=profile).count() >= MAX_WEBHOOKS:
                raise TooManyWebhooks(f"A profile has at most {MAX_WEBHOOKS} webhook endpoints.")
            endpoint = cls(profile=profile, url=url, kinds=kinds)
            secret = endpoint.new_secret()
            endpoint.save()
        return endpoint, secret

    def new_secret(self) -> str:
        """Give the endpoint a new signing secret, sealed; the one time it is seen in clear."""
        secret = f"whsec_{secrets.token_urlsafe(32)}"
        self.sealed_secret = sealing.seal(secret.encode())
        return secret

    @property
    def signing_secret(self) -> str:
        return sealing.unseal(self.sealed_secret).decode()


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def claim(self, channel: str, now: datetime, *, lease: timedelta, limit: int) -> list[Delivery]:
        """Take up to ``limit`` due deliveries of a channel for this run.

        Rows another run holds are skipped (SKIP LOCKED), and those taken are leased:
        not due again until ``now + lease``, so two runs never send one delivery
        twice, and a run that dies leaves them to be retried when the lease ends."""
        with transaction.atomic():
            taken = list(
                self.select_for_update(skip_locked=True, of=("self",))
                .filter(channel=channel, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
                .select_related("notice", "webhook")
                .order_by("next_attempt_at", "pk")[:limit]
            )
            self.filter(pk__in=[d.pk for d in taken]).update(next_attempt_at=now + lease)
        return taken


class Delivery(models.Model):
    """One notice to one recipient: an owner's mailbox, a webhook endpoint, or staff."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notice = models.ForeignKey("audit.Notice", on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    email = models.EmailField(blank=True)
    webhook = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        db_table = "members_delivery"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} of {self.notice_id} to {self.email or self.webhook_id}: {self.status}"

    def mark_sent(self, now: datetime, status_code: int | None = None) -> None:
        self.status, self.sent_at, self.last_status_code = Delivery.Status.SENT, now, status_code
        self.attempts += 1

    def retry_or_fail(self, now: datetime, error: str, status_code: int | None = None) -> None:
        """One more failed attempt: retried with exponential backoff for RETRY_FOR, then failed."""
        self.attempts += 1
        self.last_error, self.last_status_code = error[:300], status_code
        retry_at = now + FIRST_RETRY * (2 ** (self.attempts - 1))
        if retry_at - self.created_at > RETRY_FOR:
            self.status = Delivery.Status.FAILED
        else:
            self.next_attempt_at = retry_at

    def fail(self, error: str) -> None:
        """Failed for good: trying again cannot help (the address is refused)."""
        self.status, self.last_error = Delivery.Status.FAILED, error[:300]
        self.attempts += 1
