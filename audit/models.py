"""The append-only history of every change of an agent's type.

Rows are written through :func:`audit.record` (or ``record_many``) and nothing
else; the table refuses UPDATE and DELETE in the ORM here and in the database
through triggers (see the migrations).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit row."""


class Source(models.TextChoices):
    MEMBER_WRITE = "member_write", "Member write"
    CRAWLER_PROMOTE = "crawler_promote", "Crawler promote"
    CRAWLER_DISAGREEMENT = "crawler_disagreement", "Crawler disagreement"
    BACKFILL_SCRIPT = "backfill_script", "Backfill script"
    REPROBE = "reprobe", "Reprobe"
    ADMIN_REVIEW = "admin_review", "Admin review"
    URL_MERGE = "url_merge", "Spellings of one endpoint merged"


@dataclass(frozen=True)
class TypeEvent:
    """One type event, before it is written."""

    agent_url: str
    new_type: str
    source: str
    old_type: str | None = None
    member: str | None = None
    run_id: uuid.UUID | None = None
    actor: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


class AppendOnlyQuerySet(models.QuerySet):
    """Rows that may be added and read, never changed or removed through the ORM."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model._meta.verbose_name} rows cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model._meta.verbose_name} rows cannot be deleted.")

    # bulk_update goes through update(); kept explicit so the error names it.
    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError(f"{self.model._meta.verbose_name} rows cannot be updated.")


class AppendOnlyModel(models.Model):
    """A history row: saved once, never updated or deleted."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name} rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{self._meta.verbose_name} rows cannot be deleted.")


# A row changed the published type unless it records a disagreement or a type that stands.
APPLIED = ~models.Q(source=Source.CRAWLER_DISAGREEMENT) & (
    models.Q(old_type__isnull=True) | ~models.Q(old_type=models.F("new_type"))
)


class TypeReclassificationQuerySet(AppendOnlyQuerySet):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Write audit rows through audit.models.record_many(), the single entry point.")

    def _require_transaction(self) -> None:
        # The audit row must share the transaction of the change it records:
        # a flip without its row (or the reverse) must be impossible.
        if not transaction.get_connection(self.db).in_atomic_block:
            raise RuntimeError("Audit rows must be recorded inside transaction.atomic() with the change they record.")

    def record(self, event: TypeEvent) -> TypeReclassification:
        return self.record_many([event])[0]

    def applied(self) -> TypeReclassificationQuerySet:
        """Rows that changed a published type (not a disagreement, not a kept type)."""
        return self.filter(APPLIED)

    def recorded_only(self) -> TypeReclassificationQuerySet:
        return self.exclude(APPLIED)

    def record_many(self, events: Iterable[TypeEvent]) -> list[TypeReclassification]:
        self._require_transaction()
        now = timezone.now()
        rows = [
            TypeReclassification(
                agent_url=e.agent_url,
                member=e.member,
                old_type=e.old_type,
                new_type=e.new_type,
                source=e.source,
                run_id=e.run_id,
                actor=e.actor or "",
                changed_at=now,
                notes=e.notes or {},
            )
            for e in events
        ]
        if not rows:
            return []
        for row in rows:
            row.full_clean(validate_unique=False, validate_constraints=False)
        created = models.QuerySet.bulk_create(self, rows)
        # The outbox row shares the audit row's transaction: an event that rolled
        # back is never announced, one that committed is never lost.
        write_notices([Notice.of(row) for row in created])
        return created


class TypeReclassification(AppendOnlyModel):
    agent_url = models.CharField(max_length=2048, db_index=True)
    member = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    old_type = models.CharField(max_length=32, null=True, blank=True)
    new_type = models.CharField(max_length=32)
    source = models.CharField(max_length=32, choices=Source.choices)
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    notes = models.JSONField(default=dict, blank=True)

    objects = TypeReclassificationQuerySet.as_manager()

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "type reclassification"
        indexes = [
            models.Index(fields=["agent_url", "-changed_at"], name="audit_url_time_idx"),
            models.Index(fields=["source", "-changed_at"], name="audit_source_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_url}: {self.what_happened}"

    @property
    def applied(self) -> bool:
        """Did this row change the published type? (APPLIED, as one row)"""
        return self.source != Source.CRAWLER_DISAGREEMENT and self.old_type != self.new_type

    @property
    def what_happened(self) -> str:
        """The row in words, as a reviewer reads it."""
        notes = self.notes or {}
        old, new = self.old_type or "nothing", self.new_type
        by_admin = " (from the admin)" if notes.get("origin") == Origin.ADMIN else ""
        if self.source == Source.CRAWLER_DISAGREEMENT:
            return f"probe says {new}; published stays {old}; not applied"
        if self.source == Source.ADMIN_REVIEW and notes.get("decision") == ReviewDecision.KEEP_PUBLISHED:
            inferred = notes.get("inferred_type") or "another type"
            return f"reviewer kept {old} over the probe's {inferred}"
        if self.source == Source.ADMIN_REVIEW:
            return f"reviewer adopted the probe's {new} over {old}"
        if self.source == Source.URL_MERGE:
            return f"spelling {notes.get('folded_url', '?')} merged into this agent ({old} gave way to {new})"
        verb = {
            Source.MEMBER_WRITE: "member's registration changed",
            Source.CRAWLER_PROMOTE: "probe promoted",
            Source.BACKFILL_SCRIPT: f"backfill{by_admin} flipped",
            Source.REPROBE: f"reprobe{by_admin} promoted",
        }.get(Source(self.source), "changed")
        if not self.applied:
            return f"{verb.split()[0]} left {new} as it was"
        return f"{verb} {old} to {new}"


class Origin(models.TextChoices):
    """Where a run that changed types was started, beside its actor (in the row's notes)."""

    ADMIN = "admin", "The admin"
    COMMAND = "command", "A management command"


class ReviewDecision(models.TextChoices):
    """What a reviewer decided about a disagreement, as the audit row's notes say."""

    ADOPT_INFERRED = "adopt_inferred", "Adopted the inferred type"
    KEEP_PUBLISHED = "keep_published", "Kept the published type"


class NoticeKind(models.TextChoices):
    """What happened to an agent, as its owners and staff are told."""

    PROMOTED = "promoted", "Type promoted from the probe"
    DISAGREEMENT = "disagreement", "The probe disagrees with the published type"
    ADOPTED = "adopted", "A reviewer adopted the inferred type"
    KEPT = "kept", "A reviewer kept the published type"
    BACKFILLED = "backfilled", "Type changed by a backfill"
    MEMBER_WRITE = "member_write", "Type changed by the member's registration"
    REPROBED = "reprobed", "Type changed by a reprobe"
    URL_MERGED = "url_merged", "Spellings of the endpoint merged"
    GIVEN_UP = "given_up", "No longer probed: given up"
    AUTH_REQUIRED = "auth_required", "Behind a login: needs credentials"
    WENT_OFFLINE = "went_offline", "Stopped answering: three probes in a row failed"
    BACK_ONLINE = "back_online", "Answers again"
    REGISTERED = "registered", "Registered by its member (or its member's profile made public)"
    UNREGISTERED = "unregistered", "No longer listed: unregistered, or its member's profile made private"
    HOST_VERIFIED = "host_verified", "Its host is on a domain the member proved"
    HOST_UNVERIFIED = "host_unverified", "Its host is no longer on a domain the member proved"


_KIND_BY_SOURCE = {
    Source.CRAWLER_PROMOTE: NoticeKind.PROMOTED,
    Source.CRAWLER_DISAGREEMENT: NoticeKind.DISAGREEMENT,
    Source.BACKFILL_SCRIPT: NoticeKind.BACKFILLED,
    Source.MEMBER_WRITE: NoticeKind.MEMBER_WRITE,
    Source.REPROBE: NoticeKind.REPROBED,
    Source.URL_MERGE: NoticeKind.URL_MERGED,
}


class Notice(models.Model):
    """The outbox: one row per event owners and staff are told about, written in the
    transaction of the change it announces; delivery (notifications.delivery) reads it."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # receivers' idempotency key
    kind = models.CharField(max_length=32, choices=NoticeKind.choices, db_index=True)
    audit_row = models.ForeignKey(
        TypeReclassification, null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    agent_url = models.CharField(max_length=2048)
    member = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When delivery to each channel was planned; null: still waiting in the outbox.
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Whether the public change feed shows it: the agent's profile was public when it was
    # written (members answers ``notices_writing``), so the feed's history never changes.
    listed = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.agent_url}"

    @classmethod
    def of(cls, row: TypeReclassification) -> Notice:
        notes = row.notes or {}
        if row.source == Source.ADMIN_REVIEW:
            kind = NoticeKind.KEPT if notes.get("decision") == ReviewDecision.KEEP_PUBLISHED else NoticeKind.ADOPTED
        else:
            kind = _KIND_BY_SOURCE[Source(row.source)]
        payload = {
            "old_type": row.old_type,
            "new_type": row.new_type,
            "inferred_type": notes.get("inferred_type"),
            "rule": notes.get("rule"),
            "note": notes.get("note"),
            "run_id": str(row.run_id) if row.run_id else None,
            "source": row.source,
            "actor": row.actor,
        }
        return cls(kind=kind, audit_row=row, agent_url=row.agent_url, member=row.member, payload=payload)


# Sent after a transaction that wrote notices commits; delivery (crawler) listens.
notices_committed = Signal()
# Sent with ``notices`` just before they are written: the app that knows members' profiles
# sets ``listed`` on those that leave it None.
notices_writing = Signal()
_holds = threading.local()


def _notices_written() -> None:
    if getattr(_holds, "depth", 0):
        _holds.pending = True
    else:
        transaction.on_commit(lambda: notices_committed.send(sender=Notice))


# Held from a transaction's first notice to its commit (pg_advisory_xact_lock).
FEED_ORDER_LOCK = 0x0ADC9FEED


def write_notices(notices: list[Notice]) -> None:
    """Add to the outbox, in the caller's transaction (the change being announced).

    Transactions that write notices take turns from their first notice to their commit,
    so notice ids grow in commit order: a reader of the change feed who has seen id N
    can never later find a committed notice below N (SQLite serialises all writers)."""
    if not notices:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("Write notices inside transaction.atomic() with the change they announce.")
    notices_writing.send(sender=Notice, notices=notices)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FEED_ORDER_LOCK])
    Notice.objects.bulk_create(notices)
    _notices_written()


@contextmanager
def hold_notices() -> Iterator[None]:
    """Deliver once, when a burst (a backfill of many chunks) is done, not after each transaction."""
    _holds.depth = getattr(_holds, "depth", 0) + 1
    try:
        yield
    finally:
        _holds.depth -= 1
        if not _holds.depth and getattr(_holds, "pending", False):
            _holds.pending = False
            transaction.on_commit(lambda: notices_committed.send(sender=Notice))


def record(event: TypeEvent) -> TypeReclassification:
    """The single entry point for writing one audit row."""
    return TypeReclassification.objects.record(event)


def record_many(events: Iterable[TypeEvent]) -> list[TypeReclassification]:
    return TypeReclassification.objects.record_many(events)
