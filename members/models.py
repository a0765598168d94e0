from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

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
