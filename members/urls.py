from django.urls import path

from members import api

urlpatterns = [
    path("api/me/member-profile", api.MyMemberProfile.as_view(), name="api-member-profile"),
    path("api/me/member-profile/domains", api.MyDomains.as_view(), name="api-member-domains"),
    path("api/me/member-profile/domains/<str:domain>", api.MyDomain.as_view(), name="api-member-domain"),
    path(
        "api/me/member-profile/domains/<str:domain>/verify",
        api.VerifyMyDomain.as_view(),
        name="api-member-domain-verify",
    ),
]
