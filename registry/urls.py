from django.conf import settings
from django.urls import path
from django.views.decorators.cache import cache_page

from registry import api, views

# The public listing changes at crawl speed, not request speed: a few seconds of
# shared cache turn a burst of readers into one query per page.
public = cache_page(settings.PUBLIC_CACHE_SECONDS, cache="public")

urlpatterns = [
    path("registry/", public(views.registry_page), name="registry"),
    path("api/registry/agents", public(api.PublicAgentList.as_view()), name="api-registry-agents"),
]
