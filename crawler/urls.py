from django.urls import path

from crawler import api

urlpatterns = [
    path("api/registry/agents/<path:url>/refresh", api.AgentRefresh.as_view(), name="api-agent-refresh"),
]
