from django.urls import path

from members import api, notify_api

urlpatterns = [
    path("api/me/member-profile", api.MyMemberProfile.as_view(), name="api-member-profile"),
    path("api/me/member-profile/notifications", notify_api.Notifications.as_view(), name="api-notifications"),
    path("api/me/member-profile/webhooks", notify_api.Webhooks.as_view(), name="api-webhooks"),
    path("api/me/member-profile/webhooks/<int:pk>", notify_api.Webhook.as_view(), name="api-webhook"),
]
