from django.urls import path

from crawler import api, credentials_api

urlpatterns = [
    path("api/registry/agents/<path:url>/refresh", api.AgentRefresh.as_view(), name="api-agent-refresh"),
    path(
        "api/registry/agents/<path:url>/credentials",
        credentials_api.AgentCredentials.as_view(),
        name="api-agent-credentials",
    ),
]
