from django.urls import path, re_path

from crawler import api

urlpatterns = [
    path("api/registry/agents/<path:url>/refresh", api.AgentRefresh.as_view(), name="api-agent-refresh"),
    # Any agent URL, but not the refresh and credentials endpoints below it.
    re_path(
        r"^api/registry/agents/(?P<url>(?!.*/(?:refresh|credentials)$).+)$",
        api.AgentDetail.as_view(),
        name="api-agent-detail",
    ),
]
