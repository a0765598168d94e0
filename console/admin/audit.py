from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.models import TypeReclassification
from console.admin.base import ReadOnlyModelAdmin


@admin.register(TypeReclassification)
class TypeReclassificationAdmin(ReadOnlyModelAdmin):
    """Read-only: the history is written by the type rules, never by hand."""

    list_display = ["changed_at", "agent_url", "member", "old_type", "new_type", "source", "run_link", "actor"]
    list_filter = ["source", "new_type", ("changed_at", admin.DateFieldListFilter)]
    search_fields = ["agent_url", "member", "=run_id", "actor"]
    date_hierarchy = "changed_at"
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="run", ordering="run_id")
    def run_link(self, obj: TypeReclassification) -> str:
        if not obj.run_id:
            return "—"
        url = reverse("admin:audit_typereclassification_changelist")
        return format_html('<a href="{}?run_id={}">{}</a>', url, obj.run_id, str(obj.run_id)[:8])
