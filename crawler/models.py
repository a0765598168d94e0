from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from crawler.policy import CrawlSummary
    from crawler.reprobe import ReprobeApplied


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
    # Progress while probing: agents probed so far, and when probing ended.
    probed = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

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

    @classmethod
    def start(cls, agent_ids: list[int], *, actor: str) -> ReprobeRun:
        """Create the run and have a worker probe its agents: an RQ worker, or without Redis
        the project's background thread, never the request that started it.

        Raises JobQueueUnavailable (the run is then recorded as failed)."""
        from django.db import transaction

        from config.queues import JobQueueUnavailable, jobs_are_inline
        from crawler.background import run_in_background
        from crawler.jobs import enqueue, run_reprobe

        run = cls.objects.create(created_by=actor, agent_ids=agent_ids, timeout=settings.AGENT_REPROBE_TIMEOUT)
        if jobs_are_inline():
            transaction.on_commit(lambda: run_in_background(run_reprobe, run.pk))
            return run
        try:
            enqueue(run_reprobe, run.pk, job_id=f"reprobe-{run.pk}")
        except JobQueueUnavailable as exc:
            cls.objects.filter(pk=run.pk).update(status=cls.Status.FAILED, error=str(exc))
            raise
        return run

    @property
    def elapsed(self) -> float:
        """Seconds from the start to the end of probing (or to now, while probing)."""
        return ((self.finished_at or timezone.now()) - self.created_at).total_seconds()

    def probe(self) -> str:
        """Probe the run's agents and keep the result as a pending plan; a retried job does nothing."""
        from crawler.reprobe import ReprobeReport, probe_and_plan
        from probe import ProbeLimits
        from probe.tools import clean_text
        from registry.models import Agent

        if self.status != self.Status.PROBING:
            return self.status
        try:
            agents = list(
                Agent.objects.filter(pk__in=self.agent_ids, monitoring_paused=False)
                .select_related("snapshot")
                .order_by("pk")
            )

            def record_progress(done: int, total: int) -> None:
                ReprobeRun.objects.filter(pk=self.pk).update(probed=done)

            plan = probe_and_plan(agents, ProbeLimits.from_settings(deadline=self.timeout), on_progress=record_progress)
            ReprobeRun.objects.filter(pk=self.pk, status=self.Status.PROBING).update(
                status=self.Status.READY,
                plan=plan.as_dict(),
                report=ReprobeReport.of(plan).as_dict(),
                finished_at=timezone.now(),
            )
        except Exception as exc:
            # Whatever went wrong, the run ends in a final state the admin shows.
            ReprobeRun.objects.filter(pk=self.pk).update(
                status=self.Status.FAILED,
                error=clean_text(f"{type(exc).__name__}: {exc}", 500),
                finished_at=timezone.now(),
            )
            raise
        return self.Status.READY

    def discard(self, *, actor: str) -> bool:
        """Discard a plan ready for review; False when there was none to discard."""
        return bool(
            ReprobeRun.objects.filter(pk=self.pk, status=self.Status.READY).update(
                status=self.Status.DISCARDED, decided_by=actor, decided_at=timezone.now()
            )
        )

    def apply(self, *, actor: str) -> ReprobeApplied:
        """Apply the reviewed plan from what was stored: no second probe.

        Raises ReprobeNotApplicable when it was decided already, is too old, or has no plan."""
        from django.db import transaction

        from audit.models import Origin
        from crawler.reprobe import ReprobeNotApplicable, ReprobePlan, apply_reprobe

        with transaction.atomic():
            run = ReprobeRun.objects.select_for_update().get(pk=self.pk)
            now = timezone.now()
            if run.status != self.Status.READY:
                raise ReprobeNotApplicable(f"This reprobe is {run.get_status_display().lower()}; nothing to apply.")
            if run.is_expired(now):
                raise ReprobeNotApplicable(
                    f"This plan was probed at {run.created_at:%Y-%m-%d %H:%M} UTC and is too old to apply; "
                    "reprobe again."
                )
            if not run.plan:
                raise ReprobeNotApplicable("This reprobe has no plan to apply.")
            applied = apply_reprobe(ReprobePlan.from_dict(run.plan), actor=actor, origin=Origin.ADMIN)
            run.status, run.decided_by, run.decided_at = self.Status.APPLIED, actor, now
            run.run_id = applied.run_id
            run.result = {k: v for k, v in applied.__dict__.items() if k != "run_id"}
            run.save()
        return applied


class ProbeRecord(models.Model):
    """One probe of one agent, as the history keeps it: compact, written in bulk with its batch."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="probe_records")
    probed_at = models.DateTimeField()
    # "ok", or the probe's error kind.
    outcome = models.CharField(max_length=32)
    latency_ms = models.PositiveIntegerField()
    transport = models.CharField(max_length=24, blank=True, default="")
    protocol_version = models.CharField(max_length=32, blank=True, default="")
    tool_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["agent", "-probed_at"], name="probe_agent_time_idx"),
            models.Index(fields=["probed_at"], name="probe_time_idx"),  # pruning by age
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} at {self.probed_at:%Y-%m-%d %H:%M}: {self.outcome}"


class ProbeDay(models.Model):
    """One agent's probes of one day, rolled up from the raw rows (kept longer than they are)."""

    agent = models.ForeignKey("registry.Agent", on_delete=models.CASCADE, related_name="probe_days")
    day = models.DateField()
    probes = models.PositiveIntegerField()
    ok = models.PositiveIntegerField()
    latency_p50_ms = models.PositiveIntegerField(null=True)
    latency_p95_ms = models.PositiveIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "day"], name="probe_day_once_per_agent")]
        indexes = [models.Index(fields=["day"], name="probe_day_idx")]

    def __str__(self) -> str:
        return f"{self.agent_id} on {self.day}: {self.ok}/{self.probes}"


class CrawlCount(models.TextChoices):
    """What a crawl counts: the job records each in its chunk, the summary line and the dashboard show them."""

    PROBED = "probed", "probed"
    PROMOTED = "promoted", "promoted"
    DISAGREEMENTS = "disagreements", "new disagreements"
    UNCLASSIFIED = "unclassified", "answered without a known tool"
    # Answered behind a login (auth_required, auth_failed): not a failure to reach.
    AUTH_REQUIRED = "auth_required", "need credentials"


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

    @classmethod
    def record(cls, run_id: str, summary: CrawlSummary) -> CrawlChunk:
        return cls.objects.create(
            run_id=run_id,
            finished_at=timezone.now(),
            failed=dict(summary.failed),
            elapsed=summary.elapsed,
            **{count: getattr(summary, count) for count in CrawlCount.values},
        )
