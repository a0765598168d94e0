from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce

from probe.vocabulary import ProbeErrorKind, Protocol, Transport
from registry.canonical import MAX_URL_LENGTH, canonicalize_agent_url
from registry.types import INFERABLE_TYPES, AgentType, InferenceSource, TerminalState


class PublishedTypeIsReadOnly(Exception):
    """``Agent.type`` changes only through ``registry.publish.apply_type_changes``, which audits it."""


def validate_agent_url(value: str) -> None:
    canonical = canonicalize_agent_url(value)
    if canonical != value:
        raise ValidationError(f"Store the canonical spelling {canonical!r}.", code="not_canonical")


class ProtocolListField(models.CharField):
    """A list of protocol names, stored as ",media_buy,creative," so that one protocol is
    found with ``__contains=ProtocolListField.token(name)``."""

    # What django-stubs reads as the types set and got.
    _pyi_private_set_type: list[str] | str  # type: ignore[assignment]  # a list, where CharField has a str
    _pyi_private_get_type: list[str]  # type: ignore[assignment]  # a list, where CharField has a str

    @staticmethod
    def token(protocol: str) -> str:
        return f",{protocol},"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> list[str]:
        return self.to_python(value)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [p for p in (value or "").split(",") if p]

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, str):  # a lookup's own pattern, such as a token
            return value
        return f",{','.join(value)}," if value else ""


class DisagreementAge(models.TextChoices):
    """How long a disagreement has been open: the dashboard counts these, the review list filters them."""

    DAY = "day", "under a day"
    WEEK = "week", "a day to a week"
    OLDER = "older", "over a week"


class AgentQuerySet(models.QuerySet):
    def get_for_url(self, url: str) -> Agent:
        return self.get(url=canonicalize_agent_url(url))

    def locked(self) -> AgentQuerySet:
        """These agents, row-locked in primary-key order: the one lock order of every
        writer of an agent's type or snapshot, so no two writers deadlock."""
        return self.select_for_update(of=("self",)).order_by("pk")

    def without_tool_lists(self, via: str = "snapshot") -> AgentQuerySet:
        """Leave the snapshot's tool lists in the database: no listing shows them,
        and a page of agents must not cost their tools' memory."""
        return self.defer(*(f"{via}__{name}" for name in CapabilitySnapshot.TOOL_LISTS))

    @staticmethod
    def backing_off(now: datetime) -> models.Q:
        """Unknown agents waiting out their probe backoff (not given up)."""
        return models.Q(snapshot__terminal_state="", snapshot__next_probe_after__gt=now)

    def in_backoff(self, now: datetime) -> AgentQuerySet:
        return self.filter(self.backing_off(now))

    def with_disagreement_since(self) -> AgentQuerySet:
        """``disagreement_started``: when the disagreement opened (its last probe, for older rows)."""
        return self.annotate(disagreement_started=Coalesce("snapshot__disagreement_since", "snapshot__probed_at"))

    @staticmethod
    def aged(age: DisagreementAge, now: datetime) -> models.Q:
        """Disagreements of this age (on a queryset ``with_disagreement_since``)."""
        day, week = now - timedelta(days=1), now - timedelta(days=7)
        if age == DisagreementAge.DAY:
            return models.Q(disagreement_started__gt=day)
        if age == DisagreementAge.WEEK:
            return models.Q(disagreement_started__gt=week, disagreement_started__lte=day)
        return models.Q(disagreement_started__lte=week) | models.Q(disagreement_started__isnull=True)

    def open_disagreements(self) -> AgentQuerySet:
        """A known published type that differs from the probe's known inference,
        unless a reviewer kept it against exactly that inference."""
        inferred = models.F("snapshot__inferred_type")
        return (
            self.exclude(type=AgentType.UNKNOWN)
            .filter(snapshot__inferred_type__isnull=False)
            .exclude(type=inferred)
            .exclude(review_kept_inferred=inferred)
        )


class Agent(models.Model):
    url = models.CharField(max_length=MAX_URL_LENGTH, unique=True, validators=[validate_agent_url])
    name = models.CharField(max_length=200, blank=True)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.MCP)
    # The type the registry publishes. Changed only by registry.publish.apply_type_changes(),
    # which writes the audit row with it; save() refuses a changed type.
    type = models.CharField(max_length=32, choices=AgentType.choices, default=AgentType.UNKNOWN, db_index=True)
    monitoring_paused = models.BooleanField(default=False)
    # No member registers this endpoint any more: it leaves the crawl until one does.
    unregistered_at = models.DateTimeField(null=True, blank=True)
    # A reviewer kept the published type against this inferred type. While the
    # snapshot still infers it, no automatic path (member save, backfill) flips
    # the agent; a different inference lifts the decision.
    review_kept_inferred = models.CharField(max_length=32, choices=AgentType.choices, null=True, blank=True)
    review_kept_by = models.CharField(max_length=150, blank=True, default="")
    review_kept_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return self.name or self.url

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.url = canonicalize_agent_url(self.url)
        if not self._state.adding:
            stored = getattr(self, "_stored_type", None)
            if stored is not None and self.__dict__.get("type", stored) != stored:
                raise PublishedTypeIsReadOnly(
                    f"Agent.save() does not write a changed type ({stored!r} -> {self.type!r}): publish it with "
                    "registry.publish.apply_type_changes(), which audits it."
                )
            if kwargs.get("update_fields") is None:
                # A loaded row must not write back a type that the audited writer
                # changed since it was loaded.
                kwargs["update_fields"] = [
                    f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "type"
                ]
        super().save(*args, **kwargs)
        self.mark_type_loaded()

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Agent:
        agent = super().from_db(db, field_names, values)
        agent.mark_type_loaded()
        return agent

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self.mark_type_loaded()

    def mark_type_loaded(self) -> None:
        """Remember the type as stored, to refuse saving a changed one."""
        self._stored_type = self.__dict__.get("type")


class CapabilitySnapshot(models.Model):
    """The latest probe result for an agent, and its unknown-probe backoff state.

    ``tool_names``/``tools``/``inferred_type``/``probed_at`` describe the last
    probe that succeeded; ``error_kind``/``error_message``/``last_attempt_at``
    describe the last attempt, so a failed probe never erases what was known.
    """

    # Up to MAX_TOOLS tools with their descriptions: loaded for one agent, never for a list.
    TOOL_LISTS = ("tools", "tool_names")

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="snapshot")
    tool_names = models.JSONField(default=list, blank=True)
    tools = models.JSONField(default=list, blank=True)
    # The agent advertised more tools than a probe keeps (probe.MAX_TOOLS).
    tools_truncated = models.BooleanField(default=False)
    inferred_type = models.CharField(max_length=32, choices=AgentType.choices, null=True, blank=True, db_index=True)
    probed_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, choices=ProbeErrorKind.choices, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    # The last attempt met a login wall (auth_required or auth_failed).
    auth_required = models.BooleanField(default=False, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Liveness, from the probe history (crawler.liveness): consecutive probes without
    # an answer, the last answer, and the 7-day figures the listings show.
    failure_streak = models.PositiveIntegerField(default=0)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    uptime_7d = models.FloatField(null=True, blank=True)
    latency_p50_ms = models.PositiveIntegerField(null=True, blank=True)
    unknown_attempts = models.PositiveIntegerField(default=0)
    next_probe_after = models.DateTimeField(null=True, blank=True, db_index=True)
    terminal_state = models.CharField(max_length=32, choices=TerminalState.choices, blank=True, default="")
    # The open disagreement already audited ("<published> -> <inferred>"), so a
    # crawl that sees the same disagreement again writes no second row.
    disagreement_key = models.CharField(max_length=80, blank=True, default="")
    disagreement_since = models.DateTimeField(null=True, blank=True)
    # Disagreements recorded lately ("published->inferred": when), so an agent whose tools
    # alternate is recorded once per distinct pair within the window, not on every probe.
    recorded_disagreements = models.JSONField(default=dict, blank=True)
    # The advertised tools (or the declaration) that made the inference: the evidence reviewers see.
    inferred_from = models.JSONField(default=list, blank=True)
    # What decided the inference: the agent's AdCP 3 declaration, or its tool names.
    inferred_by = models.CharField(max_length=16, choices=InferenceSource.choices, blank=True, default="")
    # The AdCP 3 declaration (get_adcp_capabilities), as ",media_buy,creative," so
    # that one portable lookup finds an agent by a declared protocol.
    adcp_protocols = ProtocolListField(max_length=300, blank=True, default=list)
    adcp_versions = models.CharField(max_length=100, blank=True, default="")
    # The route that answered the last successful probe; the next crawl goes straight there.
    transport = models.CharField(max_length=24, choices=Transport.choices, blank=True, default="")
    protocol_version = models.CharField(max_length=32, blank=True, default="")
    endpoint = models.CharField(max_length=MAX_URL_LENGTH, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(inferred_type__isnull=True) | models.Q(inferred_type__in=sorted(INFERABLE_TYPES)),
                name="snapshot_inferred_type_is_inferable",
            ),
        ]

    def __str__(self) -> str:
        return f"Last probe: {self.inferred_type or 'nothing'} inferred"


class DisagreementManager(models.Manager.from_queryset(AgentQuerySet)):  # type: ignore[misc]  # django-stubs cannot type a base made by from_queryset()
    def get_queryset(self) -> AgentQuerySet:
        return super().get_queryset().open_disagreements()


class Disagreement(Agent):
    """The open disagreements, as their own admin list."""

    objects: ClassVar[DisagreementManager] = DisagreementManager()

    class Meta:
        proxy = True
        verbose_name = "open disagreement"
        permissions = [("review_disagreements", "Can adopt or keep types in disagreement review")]


class TypeCountDay(models.Model):
    """How many agents had each published type at the end of a day: the dashboard's trends.

    Written by the scheduler once a day (``registry.trends.record_type_counts``, an upsert,
    so running it again only corrects the day); days before the table existed are
    reconstructed from the audit history and marked so.
    """

    day = models.DateField()
    type = models.CharField(max_length=32, choices=AgentType.choices)
    count = models.PositiveIntegerField()
    reconstructed = models.BooleanField(default=False)

    class Meta:
        ordering = ["day", "type"]
        constraints = [models.UniqueConstraint(fields=["day", "type"], name="one_count_per_day_and_type")]

    def __str__(self) -> str:
        return f"{self.day} {self.type}: {self.count}"
