from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

from audit.models import AppendOnlyModel, AppendOnlyQuerySet, Notice, NoticeKind, write_notices
from members.resolve import publish_resolved_types
from probe.vocabulary import ProofMethod
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


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def covering(domains: Iterable[str], host: str) -> str:
    """The longest of these domains the host equals or is under ("" when none)."""
    matches = [d for d in domains if host == d or host.endswith("." + d)]
    return max(matches, key=len, default="")


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
        """Save; a profile made private (or public again) takes its agents out of (or back into)
        the public listing, which the change feed announces as agent.unregistered (agent.registered)."""
        validate_member_slug(self.slug)
        with transaction.atomic():
            was_public = (
                None
                if self._state.adding
                else MemberProfile.objects.filter(pk=self.pk).values_list("is_public", flat=True).first()
            )
            super().save(*args, **kwargs)
            if was_public is not None and was_public != self.is_public:
                self._announce_visibility()

    def _announce_visibility(self) -> None:
        agents = MemberAgent.objects.filter(profile=self).select_related("agent")
        write_notices(
            [registered(ma, self) for ma in agents]
            if self.is_public
            # Listed although the profile is now private: readers of the feed must see the agents go.
            else [unregistered(ma.agent.url, self.slug, "profile made private", listed=True) for ma in agents]
        )

    def verified_domains(self) -> list[str]:
        return list(self.domains.filter(verified_at__isnull=False).values_list("domain", flat=True))


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
    # The profile's verified domain that covers the agent's host ("" when none does):
    # kept by members.domains whenever a registration or a verification changes.
    verified_domain = models.CharField(max_length=253, blank=True, default="", db_index=True)
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
            self.verified_domain = covering(self.profile.verified_domains(), host_of(self.agent.url))
            adding = self._state.adding
            super().save(*args, **kwargs)
            self.publish_resolved_type(actor=actor)
            if adding:
                write_notices([registered(self, self.profile)])

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


def registered(registration: MemberAgent, profile: MemberProfile) -> Notice:
    """The outbox's word that an agent is listed under a profile (the change feed's agent.registered)."""
    return Notice(
        kind=NoticeKind.REGISTERED,
        agent_url=registration.agent.url,
        member=profile.slug,
        payload={"declared_type": registration.declared_type, "protocol": registration.agent.protocol},
        listed=profile.is_public,
    )


def unregistered(agent_url: str, member: str, reason: str, *, listed: bool | None = None) -> Notice:
    return Notice(
        kind=NoticeKind.UNREGISTERED, agent_url=agent_url, member=member, payload={"reason": reason}, listed=listed
    )


class HostQuota(models.Model):
    """Staff raise (or lower) how many agents all members together may register on one host."""

    host = models.CharField(max_length=253, unique=True)
    max_agents = models.PositiveIntegerField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return f"{self.host}: {self.max_agents} agents"


class DomainClaim(models.Model):
    """A domain a profile says is theirs, and whether it has proved it (members.domains)."""

    profile = models.ForeignKey(MemberProfile, on_delete=models.CASCADE, related_name="domains")
    # Lower case, IDNA (A-labels), no trailing dot.
    domain = models.CharField(max_length=253)
    # Published in DNS or a file, so not a secret; per profile and domain, 192 random bits.
    token = models.CharField(max_length=64)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.CharField(max_length=8, choices=ProofMethod.choices, blank=True)
    # Who verified by hand (staff), with why.
    verified_actor = models.CharField(max_length=150, blank=True)
    verified_note = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The first of an unbroken run of failed checks of a verified domain.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile__slug", "domain"]
        constraints = [models.UniqueConstraint(fields=["profile", "domain"], name="one_claim_per_profile_and_domain")]
        permissions = [("verify_domain", "Can verify or revoke a domain claim by hand")]

    def __str__(self) -> str:
        return f"{self.profile.slug}: {self.domain}"

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class DomainEventKind(models.TextChoices):
    VERIFIED = "verified", "Verified"
    LOST = "lost", "Verification lost"
    REVOKED = "revoked", "Revoked by staff"


class DomainEvent(AppendOnlyModel):
    """Every verification of a domain and every loss: who, when, which proof. Append-only."""

    profile_slug = models.CharField(max_length=64, db_index=True)
    domain = models.CharField(max_length=253, db_index=True)
    kind = models.CharField(max_length=16, choices=DomainEventKind.choices)
    proof = models.CharField(max_length=8, choices=ProofMethod.choices, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.domain} ({self.profile_slug}): {self.get_kind_display()}"
