from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from audit.models import Notice
from console.admin.base import ReadOnlyModelAdmin
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
    """Members' webhook endpoints; the signing secret is shown once, on the page after one is added."""

    list_display = ["profile", "url", "created_at"]
    search_fields = ["url", "profile__slug"]
    exclude = ["sealed_secret"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            # Kept for the response only: never in a message, whose storage is a cookie.
            request._webhook_secret = obj.new_secret()  # type: ignore[attr-defined]  # this request's own page
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None) -> Any:
        context = {
            **self.admin_site.each_context(request),
            "title": "Signing secret, shown once",
            "opts": self.model._meta,
            "endpoint": obj,
            "secret": request._webhook_secret,  # type: ignore[attr-defined]  # set by save_model
        }
        response = TemplateResponse(request, "admin/console/webhook_secret.html", context)
        response["Cache-Control"] = "no-store"
        return response
