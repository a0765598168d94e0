from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from audit.admin import ReadOnlyModelAdmin
from crawler.jobs import JobQueueUnavailable, crawl_chunk, enqueue, jobs_are_inline, run_reprobe
from crawler.models import ReprobeRun
from crawler.ratelimit import RateLimiterUnavailable, claim_manual_probe
from crawler.reprobe import ReprobeNotApplicable, ReprobePlan, apply_pending_reprobe, stale_agent_ids
from registry.admin import AgentAdmin
from registry.models import Agent
from registry.wording import counted

REPROBE_PERMISSION = "crawler.reprobe_agents"


def _can_reprobe(request: HttpRequest) -> bool:
    return request.user.has_perm(REPROBE_PERMISSION)


class CrawlerAgentAdmin(AgentAdmin):
    """The agent admin with the crawler's actions (registry does not import crawler)."""

    actions = [*AgentAdmin.actions, "probe_now", "reprobe_selected"]

    def has_reprobe_permission(self, request: HttpRequest) -> bool:
        return _can_reprobe(request)

    @admin.action(description="Probe now", permissions=["change"])
    def probe_now(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        """The crawler policy on the selected agents, in a job; one manual probe per agent per minute."""
        candidates = list(queryset.filter(monitoring_paused=False).values_list("pk", flat=True))
        try:
            granted = [pk for pk in candidates if not claim_manual_probe(pk)]
        except RateLimiterUnavailable as exc:
            self.message_user(request, f"Could not probe: {exc}.", messages.ERROR)
            return
        limited = len(candidates) - len(granted)
        if granted:
            try:
                enqueue(crawl_chunk, granted)
            except JobQueueUnavailable as exc:
                self.message_user(request, f"Could not enqueue the probes: {exc}.", messages.ERROR)
                return
        where = "enqueued" if not jobs_are_inline() else "done"
        self.message_user(
            request,
            f"Probe {where} for {counted(len(granted), 'agent')}; {limited} probed less than a minute ago and "
            f"{queryset.count() - len(candidates)} paused were left out.",
            messages.SUCCESS if granted else messages.WARNING,
        )

    @admin.action(description="Reprobe selected agents…", permissions=["reprobe"])
    def reprobe_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        agent_ids = list(queryset.filter(monitoring_paused=False).values_list("pk", flat=True))
        if not agent_ids:
            self.message_user(request, "The selected agents are all paused; nothing to reprobe.", messages.WARNING)
            return None
        run = ReprobeRun.objects.create(created_by=request.user.get_username(), agent_ids=agent_ids)
        try:
            # Probing takes up to the deadline: a worker does it (inline without Redis).
            enqueue(run_reprobe, run.pk, job_id=f"reprobe-{run.pk}")
        except JobQueueUnavailable as exc:
            ReprobeRun.objects.filter(pk=run.pk).update(status=ReprobeRun.Status.FAILED, error=str(exc))
            self.message_user(request, f"Could not start the reprobe: {exc}.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:crawler_reproberun_change", args=[run.pk]))


admin.site.unregister(Agent)
admin.site.register(Agent, CrawlerAgentAdmin)


@admin.register(ReprobeRun)
class ReprobeRunAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "created_by", "status", "agent_count", "decided_by", "run_id"]
    list_filter = ["status"]

    @admin.display(description="agents")
    def agent_count(self, run: ReprobeRun) -> int:
        return len(run.agent_ids)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The pending plan: its report and changes, with Apply and Discard (second step)."""
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404("No such reprobe.")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        if request.method == "POST":
            if not _can_reprobe(request):
                raise PermissionDenied
            self._decide(request, run)
            return HttpResponseRedirect(request.path)
        plan = ReprobePlan.from_dict(run.plan) if run.plan else None
        stale = stale_agent_ids(plan) if plan and run.status == ReprobeRun.Status.READY else set()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reprobe {run.pk}",
            "opts": self.model._meta,
            "run": run,
            "plan": plan,
            "changes": [(e, e.agent_id in stale) for e in plan.changes] if plan else [],
            "stale_count": len(stale),
            "expired": run.status == ReprobeRun.Status.READY and run.is_expired(timezone.now()),
            "can_decide": _can_reprobe(request) and run.status == ReprobeRun.Status.READY,
        }
        return TemplateResponse(request, "admin/crawler/reprobe_run.html", context)

    def _decide(self, request: HttpRequest, run: ReprobeRun) -> None:
        actor = request.user.get_username()
        if "_discard" in request.POST:
            updated = ReprobeRun.objects.filter(pk=run.pk, status=ReprobeRun.Status.READY).update(
                status=ReprobeRun.Status.DISCARDED, decided_by=actor, decided_at=timezone.now()
            )
            self.message_user(request, "Reprobe discarded; nothing was written." if updated else "Nothing to discard.")
            return
        try:
            applied = apply_pending_reprobe(run.pk, actor=actor)
        except ReprobeNotApplicable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"Reprobe applied (run {applied.run_id}): {counted(applied.applied, 'result')} written, {applied.promoted} promoted, "
            f"{counted(applied.disagreements, 'disagreement')} recorded, {applied.stale} stale and {applied.skipped} skipped.",
            messages.SUCCESS,
        )
