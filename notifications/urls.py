from django.urls import path

from notifications import api, feed

urlpatterns = [
    path("api/me/member-profile/notifications", api.Notifications.as_view(), name="api-notifications"),
    path("api/me/member-profile/webhooks", api.Webhooks.as_view(), name="api-webhooks"),
    path("api/me/member-profile/webhooks/<int:pk>", api.Webhook.as_view(), name="api-webhook"),
    path("api/registry/feed", feed.Feed.as_view(), name="api-registry-feed"),
]
