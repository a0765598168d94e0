from django.urls import path

from members import api

urlpatterns = [
    path("api/me/member-profile", api.MyMemberProfile.as_view(), name="api-member-profile"),
]
