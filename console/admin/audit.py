from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.models import TypeReclassification
from console.admin.agents import short_url
from console.admin.base import ReadOnlyModelAdmin
from registry.types import AgentType


class AppliedFilter(admin.SimpleListFilter):
    """Applied changes apart from what was only recorded (disagreements, kept types).

    One agent's history opens on its applied changes; the whole list shows everything."""

    title = "what it did"
    parameter_name = "applied"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("all", "Everything"),
            ("yes", "Applied changes only"),
            ("no", "Recorded only (disagreements, kept types)"),
        ]

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.one_agent = "agent_url" in params
        super().__init__(request, params, model, model_admin)

    def value(self) -> str | None:
        chosen = super().value()
        return "yes" if chosen is None and self.one_agent else chosen

    def queryset(self, request: HttpRequest, queryset: QuerySet[TypeReclassification]) -> QuerySet:
        if self.value() == "yes":
            return queryset.applied()  # type: ignore[attr-defined]  # TypeReclassificationQuerySet
        if self.value() == "no":
            return queryset.recorded_only()  # type: ignore[attr-defined]  # TypeReclassificationQuerySet
        return queryset

    def choices(self, changelist: Any) -> Any:
        # Without "All": "Everything" is the explicit choice, the default depends on the page.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup or (self.value() is None and lookup == "all"),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class AppliedNewTypeFilter(admin.SimpleListFilter):
    """The type an applied change published: a disagreement published nothing."""

    title = "new type (applied changes)"
    parameter_name = "published"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t.value, t.label) for t in AgentType]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TypeReclassification]) -> QuerySet:
        if self.value():
            return queryset.applied().filter(new_type=self.value())  # type: ignore[attr-defined]  # as above
        return queryset


@admin.register(TypeReclassification)
class TypeReclassificationAdmin(ReadOnlyModelAdmin):
    """Read-only: the history is written by the type rules, never by hand."""

    list_display = ["changed_at", "agent", "what_happened", "source", "run_link", "actor"]
    list_filter = [AppliedFilter, "source", AppliedNewTypeFilter, ("changed_at", admin.DateFieldListFilter)]
    search_fields = ["agent_url", "member", "=run_id", "actor"]
    date_hierarchy = "changed_at"
    list_per_page = 100
    show_full_result_count = False
    fields = ["changed_at", "agent_url", "member", "what_happened", "source", "run_id", "actor", "notes_table"]
    readonly_fields = ["what_happened", "notes_table"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "agent_url" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="agent", ordering="agent_url")
    def agent(self, obj: TypeReclassification) -> str:
        return short_url(obj.agent_url, limit=40)

    @admin.display(description="what happened")
    def what_happened(self, obj: TypeReclassification) -> str:
        if obj.applied:
            return format_html("<strong>{}</strong>", obj.what_happened)
        return format_html('<span class="recorded-only">{} <em>(recorded only)</em></span>', obj.what_happened)

    @admin.display(description="notes")
    def notes_table(self, obj: TypeReclassification) -> str:
        if not obj.notes:
            return "—"
        rows = ((key.replace("_", " "), _readable(value)) for key, value in sorted(obj.notes.items()))
        return format_html(
            '<table class="notes">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @admin.display(description="run", ordering="run_id")
    def run_link(self, obj: TypeReclassification) -> str:
        if not obj.run_id:
            return "—"
        url = reverse("admin:audit_typereclassification_changelist")
        return format_html('<a href="{}?run_id={}">{}</a>', url, obj.run_id, str(obj.run_id)[:8])


def _readable(value: Any) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)
