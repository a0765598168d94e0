from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from config.queues import JobQueueUnavailable, jobs_are_inline
from console.admin.base import ReadOnlyModelAdmin
from console.review import agent_evidence, probe_history
from console.twostep import two_step_action
from crawler.manual import RateLimiterUnavailable, request_manual_probe
from crawler.models import ReprobeRun
from credentials.models import AgentCredential
from members.models import MemberProfile
from registry.models import Agent, AgentQuerySet, CapabilitySnapshot, Disagreement, DisagreementAge
from registry.review import adopt_inferred, keep_published, review_plan
from registry.types import TerminalState
from registry.wording import counted


class CapabilitySnapshotInline(admin.StackedInline):
    model = CapabilitySnapshot
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name = verbose_name_plural = "last probe, as stored"
    # Every field a probe writes, as the model orders them, but the lists: the page
    # shows the tools, the evidence and the history readably below.
    readonly_fields = [
        f.name
        for f in CapabilitySnapshot._meta.fields
        if f.name not in ("id", "agent", "tools", "tool_names", "inferred_from", "recorded_disagreements")
    ]
    fields = tuple(readonly_fields)


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


class BackoffFilter(admin.SimpleListFilter):
    title = "probe backoff"
    parameter_name = "backoff"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("waiting", "Waiting out a backoff")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        return queryset.in_backoff(timezone.now()) if self.value() == "waiting" else queryset  # type: ignore[attr-defined]  # AgentQuerySet


class DisagreementAgeFilter(admin.SimpleListFilter):
    title = "open for"
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(DisagreementAge.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        chosen = self.value()
        if chosen not in DisagreementAge.values:
            return queryset
        aged = AgentQuerySet.aged(DisagreementAge(chosen), timezone.now())
        return queryset.with_disagreement_since().filter(aged)  # type: ignore[attr-defined]  # AgentQuerySet


class MemberFilter(admin.SimpleListFilter):
    title = "member"
    parameter_name = "member"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(MemberProfile.objects.order_by("slug").values_list("slug", "display_name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        return queryset.filter(registration__profile__slug=self.value()) if self.value() else queryset


REPROBE_PERMISSION = "crawler.reprobe_agents"


def can_reprobe(request: HttpRequest) -> bool:
    return request.user.has_perm(REPROBE_PERMISSION)


def short_url(url: str, limit: int = 48) -> str:
    """A URL that fits its column: the start and the end, the whole in its tooltip."""
    if len(url) <= limit:
        return format_html('<span title="{}">{}</span>', url, url)
    return format_html('<span title="{}">{}…{}</span>', url, url[: limit - 16], url[-15:])


def _snapshot(agent: Agent) -> CapabilitySnapshot | None:
    return getattr(agent, "snapshot", None)


class AgentListMixin:
    """Agents with their snapshot and member in the list's one query, never their tool lists
    (the change page's inline loads its own snapshot)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        queryset: AgentQuerySet = super().get_queryset(request)  # type: ignore[misc]  # the ModelAdmin's, after this mixin
        return queryset.select_related("snapshot", "registration__profile").without_tool_lists()


@admin.register(Agent)
class AgentAdmin(AgentListMixin, admin.ModelAdmin):
    list_display = ["agent", "member", "type", "inferred_type", "last_probe", "backoff", "paused"]
    change_form_template = "admin/console/agent_change_form.html"
    list_filter = [
        "type",
        ("snapshot__inferred_type", admin.AllValuesFieldListFilter),
        OpenDisagreementFilter,
        ("snapshot__terminal_state", admin.ChoicesFieldListFilter),
        ("snapshot__transport", admin.ChoicesFieldListFilter),
        ("snapshot__auth_required", admin.BooleanFieldListFilter),
        BackoffFilter,
        "monitoring_paused",
        MemberFilter,
    ]
    search_fields = ["url", "name", "registration__profile__slug", "registration__profile__display_name"]
    list_per_page = 100
    show_full_result_count = False
    # The published type changes only through the audited type rules.
    readonly_fields = [
        "type",
        "member",
        "declared_type",
        "review_decision",
        "created_at",
        "updated_at",
        "history_link",
        "credentials",
    ]
    fields = [
        "url",
        "name",
        "protocol",
        "member",
        "declared_type",
        "type",
        "monitoring_paused",
        "review_decision",
        "history_link",
        "credentials",
        "created_at",
        "updated_at",
    ]
    inlines = [CapabilitySnapshotInline]

    def get_fields(self, request: HttpRequest, obj: Agent | None = None) -> Any:
        # Those who cannot change it read "active" or "paused", not a red cross for "not paused".
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields = ["paused" if name == "monitoring_paused" else name for name in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None) -> list[str]:
        # A different endpoint is a different agent, with its own history and
        # snapshot: register it, do not re-point this one.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "url", "paused"] if obj is not None else fields

    actions = ["pause_monitoring", "resume_monitoring", "probe_now", "reprobe_selected", "clear_credentials"]

    @admin.display(description="saved credentials")
    def credentials(self, agent: Agent) -> str:
        """What the owner saved and how it went; the secret is never shown (nor readable here)."""
        credential = AgentCredential.objects.filter(agent=agent).first() if agent.pk else None
        history = reverse("admin:credentials_credentialchange_changelist")
        link = format_html('<a href="{}?{}">changes</a>', history, urlencode({"agent_url": agent.url}))
        if credential is None:
            return format_html("none ({})", link)
        used = (
            f"{credential.last_used_at:%Y-%m-%d %H:%M}: {credential.last_result}"
            if credential.last_used_at
            else "not yet used"
        )
        return format_html(
            "{} set by {} at {}; last used {} ({})",
            credential.get_scheme_display(),
            credential.set_by,
            f"{credential.set_at:%Y-%m-%d %H:%M}",
            used,
            link,
        )

    @admin.action(description="Clear saved credentials", permissions=["change"])
    def clear_credentials(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        cleared = AgentCredential.remove(queryset, actor=request.user.get_username())
        self.message_user(request, f"Saved credentials cleared for {counted(cleared, 'agent')}.", messages.SUCCESS)

    @admin.display(description="inferred type", ordering="snapshot__inferred_type")
    def inferred_type(self, agent: Agent) -> str:
        snapshot = _snapshot(agent)
        if snapshot is None:
            return "not probed"
        return snapshot.get_inferred_type_display() if snapshot.inferred_type else "—"

    @admin.display(description="agent", ordering="url")
    def agent(self, agent: Agent) -> str:
        return short_url(agent.url)

    @admin.display(description="member", ordering="registration__profile__slug")
    def member(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.profile.slug if registration else "—"

    @admin.display(description="declared type")
    def declared_type(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.get_declared_type_display() if registration else "—"

    @admin.display(description="monitoring", ordering="monitoring_paused")
    def paused(self, agent: Agent) -> str:
        # Words, not the boolean icon: a red cross for "not paused" read as a fault.
        return "paused" if agent.monitoring_paused else "active"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        agent = self.get_object(request, object_id)
        extra = {**agent_evidence(agent), **probe_history(agent)} if agent is not None else {}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

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
        when = f"{agent.review_kept_at:%Y-%m-%d %H:%M}"
        return f"{agent.type} kept against {agent.review_kept_inferred} by {agent.review_kept_by} at {when}"

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

    def has_reprobe_permission(self, request: HttpRequest) -> bool:
        return can_reprobe(request)

    @admin.action(description="Probe now", permissions=["change"])
    def probe_now(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        """The crawler policy on the selected agents, in a job; one manual probe per agent per minute."""
        candidates = list(queryset.filter(monitoring_paused=False).values_list("pk", flat=True))
        try:
            probe = request_manual_probe(candidates)
        except RateLimiterUnavailable as exc:
            self.message_user(request, f"Could not probe: {exc}.", messages.ERROR)
            return
        except JobQueueUnavailable as exc:
            self.message_user(request, f"Could not enqueue the probes: {exc}.", messages.ERROR)
            return
        where = "enqueued" if not jobs_are_inline() else "done"
        self.message_user(
            request,
            f"Probe {where} for {counted(len(probe.granted), 'agent')}; {len(probe.waiting)} probed less than a "
            f"minute ago and {queryset.count() - len(candidates)} paused were left out.",
            messages.SUCCESS if probe.granted else messages.WARNING,
        )

    @admin.action(description="Reprobe selected agents…", permissions=["reprobe"])
    def reprobe_selected(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        agent_ids = list(queryset.filter(monitoring_paused=False).values_list("pk", flat=True))
        if not agent_ids:
            self.message_user(request, "The selected agents are all paused; nothing to reprobe.", messages.WARNING)
            return None
        try:
            run = ReprobeRun.start(agent_ids, actor=request.user.get_username())
        except JobQueueUnavailable as exc:
            self.message_user(request, f"Could not start the reprobe: {exc}.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:crawler_reproberun_change", args=[run.pk]))


@admin.register(Disagreement)
class DisagreementAdmin(AgentListMixin, ReadOnlyModelAdmin):
    """Agents whose published type and the probe's inference disagree: the daily review.

    Each row opens the disagreement's review page: the evidence, the history, and
    Adopt / Keep, which go through the same two-step confirmation as the list's actions."""

    list_display = ["agent", "member", "type", "inferred_type", "evidence", "since"]
    list_filter = [
        "type",
        ("snapshot__inferred_type", admin.AllValuesFieldListFilter),
        DisagreementAgeFilter,
        MemberFilter,
    ]
    search_fields = ["url", "registration__profile__slug", "registration__profile__display_name"]
    ordering = ["snapshot__disagreement_since", "url"]
    list_per_page = 100
    actions = ["adopt_inferred_type", "keep_published_type"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("registry.review_disagreements")

    @admin.display(description="member", ordering="registration__profile__slug")
    def member(self, agent: Agent) -> str:
        registration = getattr(agent, "registration", None)
        return registration.profile.slug if registration else "—"

    @admin.display(description="agent", ordering="url")
    def agent(self, agent: Agent) -> str:
        return short_url(agent.url)

    @admin.display(description="inferred", ordering="snapshot__inferred_type")
    def inferred_type(self, agent: Agent) -> str:
        # The type's label, as the published type reads ("Sales", not "sales").
        return agent.snapshot.get_inferred_type_display() if agent.snapshot.inferred_type else "—"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The review page: the evidence and the decision, with the next and previous disagreement."""
        agent = self.get_object(request, object_id)
        if agent is None:
            raise Http404("This agent has no open disagreement (any more).")
        if not self.has_view_permission(request, agent):
            raise PermissionDenied
        order = list(self.get_queryset(request).order_by(*self.ordering).values_list("pk", flat=True))
        index = order.index(agent.pk)
        previous = order[index - 1] if index > 0 else None
        following = order[index + 1] if index + 1 < len(order) else None
        after = (
            reverse("admin:registry_disagreement_change", args=[following])
            if following
            else reverse("admin:registry_disagreement_changelist")
        )
        context = {
            **self.admin_site.each_context(request),
            **agent_evidence(agent),
            "title": f"Review {agent.url}",
            "opts": self.model._meta,
            "previous": previous,
            "next": following,
            "position": index + 1,
            "total": len(order),
            "after_decision": after,
            "can_review": self.has_review_permission(request),
        }
        return TemplateResponse(request, "admin/console/review_disagreement.html", context)

    @admin.display(description="since", ordering="snapshot__disagreement_since")
    def since(self, agent: Agent) -> str:
        since = agent.snapshot.disagreement_since or agent.snapshot.probed_at
        return since.strftime("%Y-%m-%d %H:%M") if since else "—"

    @admin.display(description="evidence")
    def evidence(self, agent: Agent) -> str:
        return format_html_join(", ", "<code>{}</code>", ((name,) for name in agent.snapshot.inferred_from)) or "—"

    @admin.action(description="Adopt the inferred type…", permissions=["review"])
    def adopt_inferred_type(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        return self._review(request, queryset, keeps=False)

    @admin.action(description="Keep the published type…", permissions=["review"])
    def keep_published_type(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        return self._review(request, queryset, keeps=True)

    def _review(
        self, request: HttpRequest, queryset: QuerySet[Agent], *, keeps: bool
    ) -> TemplateResponse | HttpResponseRedirect | None:
        decide = keep_published if keeps else adopt_inferred
        return two_step_action(
            self,
            request,
            queryset,
            action="keep_published_type" if keeps else "adopt_inferred_type",
            plan=review_plan(queryset.values_list("pk", flat=True)),
            apply=lambda changes, actor, note: decide(changes, actor=actor, note=note),
            title="Keep the published type" if keeps else "Adopt the inferred type",
            intro=(
                "The published type of these agents stays as it is; the decision holds until the probe infers "
                "something else."
                if keeps
                else "The published type of these agents will become what the probe inferred."
            ),
            verb="kept as published" if keeps else "reclassified",
            nothing_planned="None of the selected agents has an open disagreement.",
            confirm_label="Yes, keep the published type" if keeps else "Yes, adopt the inferred type",
            asks_for_note=True,
            keeps=keeps,
        )
