from django.urls import path

from credentials import api

urlpatterns = [
    path("api/registry/agents/<path:url>/credentials", api.AgentCredentials.as_view(), name="api-agent-credentials"),
]
