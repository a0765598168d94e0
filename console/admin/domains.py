"""Domain claims: staff read every claim and its history, and verify or revoke by hand with a note."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from console.admin.base import ReadOnlyModelAdmin
from console.twostep import NOTE_LIMIT
from members.domains import revoke, verify_by_staff
from members.models import DomainClaim, DomainEvent, MemberAgent, covering, host_of
from registry.wording import counted


@admin.register(DomainClaim)
class DomainClaimAdmin(admin.ModelAdmin):
    list_display = ["domain", "profile", "standing", "last_checked_at", "last_error"]
    list_filter = ["verified_by"]
    search_fields = ["domain", "profile__slug", "profile__display_name"]
    list_select_related = ["profile"]
    actions = ["verify_by_hand", "revoke_verification"]
    readonly_fields = [
        "profile",
        "domain",
        "token",
        "verified_at",
        "verified_by",
        "verified_actor",
        "verified_note",
        "last_checked_at",
        "last_error",
        "failing_since",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members claim domains; staff decide about claims

    def has_verify_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.verify_domain")

    @admin.display(description="standing", ordering="verified_at")
    def standing(self, claim: DomainClaim) -> str:
        if not claim.verified:
            return "not verified"
        if claim.verified_by == "staff":
            return format_html("verified by staff ({})", claim.verified_actor)
        return f"verified ({claim.get_verified_by_display()})"

    @admin.action(description="Verify by hand…", permissions=["verify"])
    def verify_by_hand(self, request: HttpRequest, queryset: QuerySet[DomainClaim]) -> HttpResponse | None:
        return self._decide(
            request,
            queryset,
            action="verify_by_hand",
            apply=verify_by_staff,
            title="Verify domains by hand",
            intro="These domains will count as proved by staff, with you as the actor, until revoked; the daily "
            "check leaves them alone.",
            verb="verified",
            confirm_label="Yes, verify them",
        )

    @admin.action(description="Revoke verification…", permissions=["verify"])
    def revoke_verification(self, request: HttpRequest, queryset: QuerySet[DomainClaim]) -> HttpResponse | None:
        return self._decide(
            request,
            queryset,
            action="revoke_verification",
            apply=revoke,
            title="Revoke domain verifications",
            intro="These domains will no longer count as proved, whatever proved them; their agents are shown as "
            "unverified and their owners are told.",
            verb="revoked",
            confirm_label="Yes, revoke them",
        )

    def _decide(
        self,
        request: HttpRequest,
        queryset: QuerySet[DomainClaim],
        *,
        action: str,
        apply: Callable[..., int],
        title: str,
        intro: str,
        verb: str,
        confirm_label: str,
    ) -> HttpResponse | None:
        """As delete_selected: the first POST shows the claims and asks for a note, the second applies."""
        note = request.POST.get("note", "").strip()[:NOTE_LIMIT]
        if request.POST.get("post") == "yes" and note:
            done = apply(list(queryset), actor=request.user.get_username(), note=note)
            self.message_user(request, f"{counted(done, 'domain')} {verb}.", messages.SUCCESS)
            return None
        claims = list(queryset.select_related("profile"))
        registrations = MemberAgent.objects.filter(profile__in={c.profile_id for c in claims}).values_list(
            "profile_id", "agent__url"
        )
        for claim in claims:
            claim.covered = sum(  # type: ignore[attr-defined]  # shown on the page only
                1
                for profile_id, url in registrations
                if profile_id == claim.profile_id and covering([claim.domain], host_of(url))
            )
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "claims": claims,
            "action": action,
            "confirm_label": confirm_label,
            "queryset": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "note": note,
        }
        return TemplateResponse(request, "admin/console/confirm_domains.html", context)


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "domain", "profile_slug", "kind", "proof", "actor", "note"]
    list_filter = ["kind", "proof"]
    search_fields = ["domain", "profile_slug", "actor"]
