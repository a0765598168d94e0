from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from audit.admin import ReadOnlyModelAdmin
from registry.models import Agent, CapabilitySnapshot, Disagreement
from registry.reclassify import ApplyResult
from registry.review import adopt_inferred, confirmed, keep_published, review_plan
from registry.types import TerminalState
from registry.wording import counted


class CapabilitySnapshotInline(admin.StackedInline):
    model = CapabilitySnapshot
    can_delete = False
    extra = 0
    max_num = 0
    readonly_fields = [
        "inferred_type",
        "inferred_from",
        "probed_at",
        "tool_names",
        "error_kind",
        "error_message",
        "oauth_required",
        "last_attempt_at",
        "unknown_attempts",
        "next_probe_after",
        "terminal_state",
        "disagreement_key",
        "disagreement_since",
    ]
    fields = readonly_fields


class OpenDisagreementFilter(admin.SimpleListFilter):
    title = "open disagreement"
    parameter_name = "disagreement"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("none", "None")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        open_ids = Agent.objects.open_disagreements().values("pk")
        if self.value() == "open":
            return queryset.filter(pk__in=open_ids)
        if self.value() == "none":
            return queryset.exclude(pk__in=open_ids)
        return queryset


class MemberFilter(admin.SimpleListFilter):
    title = "member"
    parameter_name = "member"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from django.apps import apps

        profiles = (
            apps.get_model("members", "MemberProfile").objects.order_by("slug").values_list("slug", "display_name")
        )
        return list(profiles)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        return queryset.filter(registration__profile__slug=self.value()) if self.value() else queryset


def _snapshot(agent: Agent) -> CapabilitySnapshot | None:
    return getattr(agent, "snapshot", None)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["url", "member", "type", "inferred_type", "last_probe", "backoff", "monitoring_paused"]
    list_filter = [
        "type",
        ("snapshot__inferred_type", admin.AllValuesFieldListFilter),
        OpenDisagreementFilter,
        ("snapshot__terminal_state", admin.ChoicesFieldListFilter),
        "monitoring_paused",
        MemberFilter,
    ]
    search_fields = ["url", "name", "registration__profile__slug", "registration__profile__display_name"]
    list_select_related = ["snapshot", "registration__profile"]
    list_per_page = 100
    show_full_result_count = False
    # The published type changes only through the audited type rules.
    readonly_fields = ["type", "review_decision", "created_at", "updated_at", "history_link"]
    fields = [
        "url",
        "name",
        "protocol",
        "type",
        "monitoring_paused",
        "review_decision",
        "history_link",
        "created_at",
        "updated_at",
    ]
    inlines = [CapabilitySnapshotInline]
    actions = ["pause_monitoring", "resume_monitoring"]

    @admin.display(description="inferred type", ordering="snapshot__inferred_type")
    def inferred_type(self, agent: Agent) -> str:
        snapshot = _snapshot(agent)
        return (snapshot.inferred_type or "—") if snapshot else "not probed"

    @admin.display(description="member", ordering="registration__profile__slug")
    def member(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.profile.slug if registration else "—"

    @admin.display(description="last probe", ordering="snapshot__last_attempt_at")
    def last_probe(self, agent: Agent) -> str:
        snapshot = _snapshot(agent)
        if snapshot is None or snapshot.last_attempt_at is None:
            return "never"
        when = snapshot.last_attempt_at.strftime("%Y-%m-%d %H:%M")
        return f"{when} ({snapshot.error_kind})" if snapshot.error_kind else f"{when} ok"

    @admin.display(description="backoff")
    def backoff(self, agent: Agent) -> str:
        snapshot = _snapshot(agent)
        if snapshot is None:
            return "—"
        if snapshot.terminal_state:
            return TerminalState(snapshot.terminal_state).label
        if snapshot.next_probe_after:
            return f"attempt {snapshot.unknown_attempts}, next {snapshot.next_probe_after:%Y-%m-%d}"
        return "—"

    @admin.display(description="review decision")
    def review_decision(self, agent: Agent) -> str:
        if not agent.review_kept_inferred:
            return "—"
        return f"{agent.type} kept against {agent.review_kept_inferred} by {agent.review_kept_by} at {agent.review_kept_at:%Y-%m-%d %H:%M}"

    @admin.display(description="type history")
    def history_link(self, agent: Agent) -> str:
        if not agent.pk:
            return "—"
        url = reverse("admin:audit_typereclassification_changelist")
        return format_html(
            '<a href="{}?{}">Type changes of this agent, newest first</a>', url, urlencode({"agent_url": agent.url})
        )

    @admin.action(description="Pause monitoring", permissions=["change"])
    def pause_monitoring(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = queryset.update(monitoring_paused=True)
        self.message_user(request, f"Monitoring paused for {counted(count, 'agent')}.", messages.SUCCESS)

    @admin.action(description="Resume monitoring", permissions=["change"])
    def resume_monitoring(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = queryset.update(monitoring_paused=False)
        self.message_user(request, f"Monitoring resumed for {counted(count, 'agent')}.", messages.SUCCESS)


@admin.register(Disagreement)
class DisagreementAdmin(ReadOnlyModelAdmin):
    """Agents whose published type and the probe's inference disagree: the daily review."""

    list_display = ["url", "member", "declared_type", "type", "inferred_type", "since", "evidence"]
    list_filter = ["type", ("snapshot__inferred_type", admin.AllValuesFieldListFilter), MemberFilter]
    search_fields = ["url", "registration__profile__slug", "registration__profile__display_name"]
    list_select_related = ["snapshot", "registration__profile"]
    ordering = ["snapshot__disagreement_since", "url"]
    list_per_page = 100
    actions = ["adopt_inferred_type", "keep_published_type"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("registry.review_disagreements")

    @admin.display(description="member", ordering="registration__profile__slug")
    def member(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.profile.slug if registration else "—"

    @admin.display(description="declared type")
    def declared_type(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.declared_type if registration else "—"

    @admin.display(description="inferred type", ordering="snapshot__inferred_type")
    def inferred_type(self, agent: Agent) -> str:
        return agent.snapshot.inferred_type or "—"

    @admin.display(description="since", ordering="snapshot__disagreement_since")
    def since(self, agent: Agent) -> str:
        since = agent.snapshot.disagreement_since or agent.snapshot.probed_at
        return since.strftime("%Y-%m-%d %H:%M") if since else "—"

    @admin.display(description="evidence")
    def evidence(self, agent: Agent) -> str:
        return format_html_join(", ", "<code>{}</code>", ((name,) for name in agent.snapshot.inferred_from)) or "—"

    @admin.action(description="Adopt the inferred type…", permissions=["review"])
    def adopt_inferred_type(self, request: HttpRequest, queryset: QuerySet[Agent]) -> TemplateResponse | None:
        return self._review(request, queryset, "adopt_inferred_type", adopt_inferred, "reclassified")

    @admin.action(description="Keep the published type…", permissions=["review"])
    def keep_published_type(self, request: HttpRequest, queryset: QuerySet[Agent]) -> TemplateResponse | None:
        return self._review(request, queryset, "keep_published_type", keep_published, "kept as published")

    def _review(
        self, request: HttpRequest, queryset: QuerySet[Agent], action: str, apply: Any, verb: str
    ) -> TemplateResponse | None:
        """First POST: the diff and a note field. Second POST (post=yes): apply what still holds."""
        plan = review_plan(queryset.values_list("pk", flat=True))
        if request.POST.get("post") == "yes":
            changes, vanished = confirmed(plan, request.POST.getlist("change"))
            result: ApplyResult = apply(
                changes, actor=request.user.get_username(), note=request.POST.get("note", "").strip()[:2000]
            )
            self.message_user(
                request,
                f"{counted(len(result.flipped), 'agent')} {verb} (run {result.run_id}), {len(result.stale) + vanished} stale skipped.",
                messages.SUCCESS,
            )
            return None
        if not plan:
            self.message_user(request, "None of the selected agents has an open disagreement.", messages.INFO)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Adopt the inferred type" if action == "adopt_inferred_type" else "Keep the published type",
            "adopt": action == "adopt_inferred_type",
            "action": action,
            "plan": plan,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/registry/review_confirmation.html", context)
