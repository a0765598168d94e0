"""The append-only history of every change of an agent's type.

Rows are written through :func:`audit.record` (or ``record_many``) and nothing
else; the table refuses UPDATE and DELETE in the ORM here and in the database
through triggers (see the migrations).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
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


def new_run_id() -> uuid.UUID:
    return uuid.uuid4()


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
        return models.QuerySet.bulk_create(self, rows)


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
        return f"{self.agent_url}: {self.old_type or '∅'} -> {self.new_type} ({self.source})"


def record(event: TypeEvent) -> TypeReclassification:
    """The single entry point for writing one audit row."""
    return TypeReclassification.objects.record(event)


def record_many(events: Iterable[TypeEvent]) -> list[TypeReclassification]:
    return TypeReclassification.objects.record_many(events)
