"""The two-step protocol of the admin actions that change published types.

Like ``delete_selected``: the first POST plans and shows the exact changes on a
confirmation page, writing nothing; the second (``post=yes``) applies the changes
the staff member confirmed that the plan still contains, through the single
writer, which re-checks each one. A confirmed change that is no longer planned,
or that the writer finds stale, is reported as stale and left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from registry.publish import ApplyResult, TypeChange
from registry.wording import counted

NOTE_LIMIT = 2000

# (confirmed changes, actor, reviewer's note) -> what the writer did
Apply = Callable[[list[TypeChange], str, str], ApplyResult]


def tools_seen(change: TypeChange) -> str:
    """A review's "why": the tools that made the inference."""
    return ", ".join(change.notes.get("tool_names", [])) or "—"


def _next_page(request: HttpRequest) -> str:
    """Where the page that started the action wants to go once it is applied (this site only)."""
    after = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(after, allowed_hosts={request.get_host()}, require_https=False)
    return after if after.startswith("/") and allowed else ""


def two_step_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    plan: Sequence[TypeChange],
    apply: Apply,
    title: str,
    intro: str,
    verb: str,
    nothing_planned: str,
    confirm_label: str,
    asks_for_note: bool = False,
    keeps: bool = False,
    why: Callable[[TypeChange], str] = tools_seen,
    kept: Sequence[TypeChange] = (),
) -> TemplateResponse | HttpResponseRedirect | None:
    if request.POST.get("post") == "yes":
        wanted = set(request.POST.getlist("change"))
        confirmed = [change for change in plan if change.key in wanted]
        gone = len(wanted) - len(confirmed)
        # Planned but unticked: the staff member chose to leave them out.
        left_out = len(plan) - len(confirmed)
        note = request.POST.get("note", "").strip()[:NOTE_LIMIT]
        result = apply(confirmed, request.user.get_username(), note)
        model_admin.message_user(
            request,
            f"{counted(len(result.applied), 'agent')} {verb} (run {result.run_id}), "
            f"{len(result.stale) + gone} stale skipped, {left_out} left out.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(after) if (after := _next_page(request)) else None
    if not plan:
        model_admin.message_user(request, nothing_planned, messages.INFO)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "rows": [(change, why(change)) for change in plan],
        "kept": kept,
        "keeps": keeps,
        "asks_for_note": asks_for_note,
        "confirm_label": confirm_label,
        "action": action,
        "queryset": queryset,
        "opts": model_admin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "note": request.POST.get("note", "")[:NOTE_LIMIT],
        "next": _next_page(request),
    }
    return TemplateResponse(request, "admin/console/confirm_changes.html", context)
