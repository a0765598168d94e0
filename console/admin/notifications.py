from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from audit.models import Notice
from console.admin.base import ReadOnlyModelAdmin
from notifications.api import new_webhook_secret
from notifications.models import Delivery, WebhookEndpoint


@admin.register(Notice)
class NoticeAdmin(ReadOnlyModelAdmin):
    """The outbox: every event owners and staff are told about."""

    list_display = ["created_at", "kind", "agent_url", "member", "dispatched_at"]
    list_filter = ["kind", ("dispatched_at", admin.EmptyFieldListFilter)]
    search_fields = ["agent_url", "member", "=event_id"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyModelAdmin):
    """Every email and webhook delivery, with what came of it; failed ones are the ones to look at."""

    list_display = ["created_at", "channel", "recipient", "status", "attempts", "last_status_code", "latency_ms"]
    list_filter = ["status", "channel"]
    search_fields = ["email", "webhook__url", "notice__agent_url"]
    list_select_related = ["notice", "webhook"]

    @admin.display(description="recipient")
    def recipient(self, delivery: Delivery) -> str:
        return delivery.email or (delivery.webhook.url if delivery.webhook else "—")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Members' webhook endpoints; the signing secret is shown once, when one is added."""

    list_display = ["profile", "url", "created_at"]
    search_fields = ["url", "profile__slug"]
    exclude = ["secret"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            obj.secret = new_webhook_secret()
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(
                request,
                f"Signing secret for {obj.url}, shown this once; give it to the member: {obj.secret}",
                messages.WARNING,
            )
