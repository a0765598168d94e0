from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property

from registry.public import filter_agents, public_agents
from registry.types import AgentType

PAGE_SIZE = 50


class CachedCountPaginator(Paginator):
    """Counting 100,000 joined rows is most of a page view's cost; a total as old
    as the cached pages (PUBLIC_CACHE_SECONDS) is good enough for the page links."""

    def __init__(self, *args: object, cache_key: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Paginator's own arguments, passed through
        self.cache_key = cache_key

    @cached_property
    def count(self) -> int:
        cache = caches["public"]
        cached = cache.get(self.cache_key)
        if cached is None:
            cached = super().count
            cache.set(self.cache_key, cached, settings.PUBLIC_CACHE_SECONDS)
        return cached


def registry_page(request: HttpRequest) -> HttpResponse:
    selected_type = request.GET.get("type", "")
    query = request.GET.get("q", "")
    error = ""
    try:
        agents = filter_agents(public_agents(), type=selected_type, q=query)
    except ValidationError as exc:
        agents, error = public_agents().none(), exc.messages[0]
    key = "registry-count:" + hashlib.sha256(f"{selected_type}|{query}".encode()).hexdigest()
    page = CachedCountPaginator(agents, PAGE_SIZE, cache_key=key).get_page(request.GET.get("page"))
    return render(
        request,
        "registry/agent_list.html",
        {
            "page": page,
            "types": AgentType.choices,
            "selected_type": selected_type,
            "query": query,
            "error": error,
        },
        status=400 if error else 200,
    )
