from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from audit.models import NoticeKind
from members.resolve import publish_resolved_types
from registry.models import Agent
from registry.publish import show_applied
from registry.types import AgentType, parse_agent_type

RESERVED_SLUGS = frozenset(
    {
        "admin",
        "api",
        "registry",
        "static",
        "media",
        "me",
        "new",
        "edit",
        "delete",
        "settings",
        "login",
        "logout",
        "signup",
        "account",
        "accounts",
        "members",
        "member",
        "agents",
        "agent",
        "www",
        "help",
        "about",
        "support",
        "adcp",
        "staff",
        "root",
        "system",
        "null",
        "none",
        "undefined",
    }
)
# \Z, not $: "$" would also match before a trailing newline ("admin\n").
_SLUG = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")


def validate_member_slug(value: str) -> None:
    if not _SLUG.match(value or ""):
        raise ValidationError(
            "A member slug is 1-64 lower-case letters, digits and hyphens, not starting or ending with a hyphen.",
            code="invalid_slug",
        )
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} is reserved; choose another slug.", code="reserved_slug")


class MemberProfile(models.Model):
    slug = models.CharField(max_length=64, unique=True, validators=[validate_member_slug])
    display_name = models.CharField(max_length=200)
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="member_profiles")
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        permissions = [("backfill_agent_types", "Can backfill agent types")]

    def __str__(self) -> str:
        return self.display_name or self.slug

    def save(self, *args: Any, **kwargs: Any) -> None:
        validate_member_slug(self.slug)
        super().save(*args, **kwargs)


class MemberAgentQuerySet(models.QuerySet):
    # Paths that would change a registration without the resolve rules are refused;
    # members.registration.register_agents is the bulk path that resolves.
    _RESOLVED_FIELDS = frozenset({"declared_type", "agent", "agent_id"})

    def update(self, **kwargs: Any) -> int:
        if self._RESOLVED_FIELDS & kwargs.keys():
            raise TypeError(
                "MemberAgent.declared_type/agent cannot be changed with QuerySet.update(): it would skip the "
                "resolve rules. Save each row, or use members.registration.register_agents()."
            )
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        if self._RESOLVED_FIELDS & set(fields):
            raise TypeError("Use members.registration.register_agents() to change declared types in bulk.")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "MemberAgent.objects.bulk_create() would skip the resolve rules; use "
            "members.registration.register_agents()."
        )

    def bulk_create_resolved(self, objs: list[MemberAgent]) -> list[MemberAgent]:
        """Insert rows whose resolution the caller applies in the same transaction."""
        return models.QuerySet.bulk_create(self, objs)

    def bulk_update_resolved(self, objs: list[MemberAgent], fields: list[str]) -> int:
        # A plain queryset: bulk_update() calls update(), which this one refuses.
        plain: models.QuerySet[MemberAgent] = models.QuerySet(MemberAgent, using=self.db)
        return plain.bulk_update(objs, fields) if objs else 0


class MemberAgent(models.Model):
    profile = models.ForeignKey(MemberProfile, on_delete=models.CASCADE, related_name="agents")
    # An agent URL belongs to at most one member profile.
    agent = models.OneToOneField(Agent, on_delete=models.PROTECT, related_name="registration")
    declared_type = models.CharField(max_length=32, choices=AgentType.choices)
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberAgentQuerySet.as_manager()

    class Meta:
        ordering = ["profile__slug", "agent__url"]

    def __str__(self) -> str:
        return f"{self.profile.slug}: {self.agent.url}"

    def save(self, *args: Any, actor: str = "", **kwargs: Any) -> None:
        """Save and publish the resolved type of the agent, audited, in one transaction."""
        self.declared_type = parse_agent_type(self.declared_type)
        with transaction.atomic():
            # Agent row first, as every type writer does: one lock order, no deadlock.
            self.lock_agent()
            super().save(*args, **kwargs)
            self.publish_resolved_type(actor=actor)

    def clean(self) -> None:
        try:
            self.declared_type = parse_agent_type(self.declared_type)
        except ValidationError as exc:
            raise ValidationError({"declared_type": exc.messages}) from None

    def lock_agent(self) -> None:
        list(Agent.objects.filter(pk=self.agent_id).locked().values_list("pk", flat=True))

    def publish_resolved_type(self, *, actor: str = "") -> None:
        """Publish what the resolve rules give for this saved row (the caller holds the agent's lock)."""
        result = publish_resolved_types(MemberAgent.objects.filter(pk=self.pk), actor=actor)
        if MemberAgent.agent.is_cached(self):
            show_applied(self.agent, result)


class HostQuota(models.Model):
    """Staff raise (or lower) how many agents all members together may register on one host."""

    host = models.CharField(max_length=253, unique=True)
    max_agents = models.PositiveIntegerField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return f"{self.host}: {self.max_agents} agents"


def _all_kinds() -> list[str]:
    return list(NoticeKind.values)


def _email_kinds() -> list[str]:
    """By default owners are emailed about what needs them: disagreements, decisions, give-ups, login walls."""
    return ["disagreement", "adopted", "kept", "given_up", "auth_required"]


class NotificationSettings(models.Model):
    """What a member profile's owners are told, and how."""

    class EmailMode(models.TextChoices):
        EACH_EVENT = "each_event", "One message per event"
        DAILY_DIGEST = "daily_digest", "A daily digest"

    profile = models.OneToOneField(MemberProfile, on_delete=models.CASCADE, related_name="notification_settings")
    email_kinds = models.JSONField(default=_email_kinds, blank=True)
    email_mode = models.CharField(max_length=16, choices=EmailMode.choices, default=EmailMode.EACH_EVENT)

    def __str__(self) -> str:
        return f"Notifications of {self.profile.slug}"


class WebhookEndpoint(models.Model):
    """An HTTPS endpoint a member profile receives signed event deliveries at."""

    profile = models.ForeignKey(MemberProfile, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2048)
    # Signs deliveries (HMAC-SHA256); shown once, when the endpoint is created.
    secret = models.CharField(max_length=64, editable=False)
    kinds = models.JSONField(default=_all_kinds, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile__slug", "url"]

    def __str__(self) -> str:
        return f"{self.profile.slug}: {self.url}"


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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} of {self.notice_id} to {self.email or self.webhook_id}: {self.status}"
