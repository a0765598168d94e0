from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

from console.admin.agents import can_reprobe
from console.admin.base import ReadOnlyModelAdmin
from crawler.models import ReprobeRun
from crawler.reprobe import ReprobeNotApplicable, ReprobePlan, stale_agent_ids
from registry.wording import counted


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
            if not can_reprobe(request):
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
            "can_decide": can_reprobe(request) and run.status == ReprobeRun.Status.READY,
        }
        return TemplateResponse(request, "admin/console/reprobe_run.html", context)

    def _decide(self, request: HttpRequest, run: ReprobeRun) -> None:
        actor = request.user.get_username()
        if "_discard" in request.POST:
            discarded = run.discard(actor=actor)
            self.message_user(
                request, "Reprobe discarded; nothing was written." if discarded else "Nothing to discard."
            )
            return
        try:
            applied = run.apply(actor=actor)
        except ReprobeNotApplicable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"Reprobe applied (run {applied.run_id}): {counted(applied.applied, 'result')} written, "
            f"{applied.promoted} promoted, {counted(applied.disagreements, 'disagreement')} recorded, "
            f"{applied.stale} stale and {applied.skipped} skipped.",
            messages.SUCCESS,
        )
