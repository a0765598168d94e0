from django.contrib import admin

from console.admin.base import ReadOnlyModelAdmin
from credentials.models import CredentialChange


@admin.register(CredentialChange)
class CredentialChangeAdmin(ReadOnlyModelAdmin):
    """Who set, replaced or removed an agent's credentials (never the secret)."""

    list_display = ["changed_at", "agent_url", "action", "scheme", "actor"]
    list_filter = ["action", "scheme"]
    search_fields = ["agent_url", "actor"]
