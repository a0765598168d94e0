from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models


class ReprobeRun(models.Model):
    """A reprobe started from the admin: probed by a job, kept as a pending plan
    until a staff member applies it (without probing again) or discards it."""

    class Status(models.TextChoices):
        PROBING = "probing", "Probing"
        READY = "ready", "Ready for review"
        APPLIED = "applied", "Applied"
        DISCARDED = "discarded", "Discarded"
        FAILED = "failed", "Failed"

    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROBING)
    agent_ids = models.JSONField(default=list)
    timeout = models.FloatField(default=30.0)
    plan = models.JSONField(null=True, blank=True)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    decided_by = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    run_id = models.UUIDField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("reprobe_agents", "Can reprobe agents and apply reprobe plans")]

    def __str__(self) -> str:
        return f"Reprobe of {len(self.agent_ids)} agents by {self.created_by} ({self.get_status_display()})"

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=settings.AGENT_REPROBE_PLAN_MAX_AGE)

    def is_expired(self, now: datetime) -> bool:
        return now > self.expires_at


class CrawlChunk(models.Model):
    """What one chunk of a crawl did: the dashboard's "last crawl" is the sum of its run's chunks."""

    run_id = models.UUIDField(db_index=True)
    finished_at = models.DateTimeField(db_index=True)
    probed = models.PositiveIntegerField(default=0)
    promoted = models.PositiveIntegerField(default=0)
    disagreements = models.PositiveIntegerField(default=0)
    unclassified = models.PositiveIntegerField(default=0)
    auth_required = models.PositiveIntegerField(default=0)
    failed = models.JSONField(default=dict)
    elapsed = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-finished_at"]
        permissions = [("manage_job_queue", "Can view and manage the job queue (django-rq)")]

    def __str__(self) -> str:
        return f"Crawl {self.run_id}: {self.probed} probed"
