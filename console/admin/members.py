from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from audit.models import Origin
from console.twostep import two_step_action
from members.backfill import BackfillPlan, apply_backfill, explained, plan_backfill
from members.models import HostQuota, MemberAgent, MemberProfile
from members.registration import unregister_agents
from notifications.models import NotificationSettings
from registry.canonical import canonicalize_agent_url
from registry.models import Agent, CapabilitySnapshot
from registry.wording import counted


class MemberAgentForm(forms.ModelForm):
    agent_url = forms.CharField(
        label="Agent URL", max_length=2048, widget=forms.TextInput(attrs={"size": 60, "style": "width: 28em"})
    )

    class Meta:
        model = MemberAgent
        fields = ["agent_url", "declared_type", "display_name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["agent_url"].initial = self.instance.agent.url

    def clean_agent_url(self) -> str:
        url = canonicalize_agent_url(self.cleaned_data["agent_url"])
        other = (
            MemberAgent.objects.filter(agent__url=url).exclude(pk=self.instance.pk).select_related("profile").first()
        )
        if other is not None:
            raise ValidationError(f"{url} is already registered by {other.profile.slug}.")
        return url

    def save(self, commit: bool = True) -> MemberAgent:
        agent, _ = Agent.objects.get_or_create(url=self.cleaned_data["agent_url"])
        self.instance.agent = agent
        return super().save(commit=commit)


class MemberAgentInline(admin.TabularInline):
    model = MemberAgent
    form = MemberAgentForm
    extra = 1
    fields = ["agent_url", "declared_type", "published_type", "inferred_type", "display_name"]
    readonly_fields = ["published_type", "inferred_type"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .select_related("agent__snapshot")
            .defer(*(f"agent__snapshot__{name}" for name in CapabilitySnapshot.TOOL_LISTS))
        )

    @admin.display(description="published type")
    def published_type(self, member_agent: MemberAgent) -> str:
        return member_agent.agent.type if member_agent.agent_id else "—"

    @admin.display(description="inferred by probe")
    def inferred_type(self, member_agent: MemberAgent) -> str:
        snapshot = getattr(member_agent.agent, "snapshot", None) if member_agent.agent_id else None
        return (snapshot.inferred_type or "nothing") if snapshot else "not probed"


@admin.register(MemberProfile)
class MemberProfileAdmin(admin.ModelAdmin):
    list_display = ["slug", "display_name", "is_public", "agent_count"]
    list_filter = ["is_public"]
    search_fields = ["slug", "display_name"]
    filter_horizontal = ["owners"]
    inlines = [MemberAgentInline]
    actions = ["backfill_agent_types"]

    def has_backfill_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.backfill_agent_types")

    @admin.action(description="Backfill agent types…", permissions=["backfill"])
    def backfill_agent_types(self, request: HttpRequest, queryset: QuerySet[MemberProfile]) -> HttpResponse | None:
        plan = plan_backfill(queryset.values_list("slug", flat=True))
        profiles, agents = len(queryset), len(plan.changes)
        return two_step_action(
            self,
            request,
            queryset,
            action="backfill_agent_types",
            plan=plan.changes,
            apply=lambda changes, actor, note: apply_backfill(
                BackfillPlan(changes=changes), actor=actor, origin=Origin.ADMIN
            ),
            title="Backfill agent types",
            intro=format_html(
                "Re-resolving the agents of {} against their latest probe would change the published type of "
                "<strong>{}</strong>.",
                counted(profiles, "member profile"),
                counted(agents, "agent"),
            ),
            verb="reclassified",
            nothing_planned="Nothing to backfill: every selected agent already has its resolved type.",
            confirm_label="Yes, apply the ticked changes",
            why=explained,
            kept=plan.kept_by_review,
        )

    @admin.display(description="agents")
    def agent_count(self, profile: MemberProfile) -> int:
        return profile.agent_count  # type: ignore[attr-defined]  # annotated by get_queryset()

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(agent_count=Count("agents"))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not MemberAgent:
            return super().save_formset(request, form, formset, change)
        for member_agent in formset.save(commit=False):
            member_agent.save(actor=request.user.get_username())
        unregister_agents(
            MemberAgent.objects.filter(pk__in=[deleted.pk for deleted in formset.deleted_objects]),
            actor=request.user.get_username(),
        )
        formset.save_m2m()


@admin.register(HostQuota)
class HostQuotaAdmin(admin.ModelAdmin):
    """Raise (or lower) how many agents all members together may register on one host."""

    list_display = ["host", "max_agents", "reason"]
    search_fields = ["host"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    """What each profile's owners are told by email (they also choose it through the member API)."""

    list_display = ["profile", "email_mode"]
    search_fields = ["profile__slug"]
