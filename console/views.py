from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, reverse

from console.dashboard import dashboard_context

DASHBOARD_PERMISSION = "registry.view_agent"
JOB_QUEUE_PERMISSION = "crawler.manage_job_queue"


def job_queue_urls() -> list[Any]:
    """django-rq's views, each behind its own permission (they let staff delete,
    requeue and stop jobs; django-rq itself asks only for staff status)."""
    import django_rq.urls

    def guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not (request.user.is_staff and request.user.has_perm(JOB_QUEUE_PERMISSION)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return [
        URLPattern(pattern.pattern, guard(pattern.callback), pattern.default_args, pattern.name)
        for pattern in django_rq.urls.urlpatterns
        if isinstance(pattern, URLPattern)
    ]


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    context = {**admin.site.each_context(request), "title": "Registry dashboard", **dashboard_context()}
    return TemplateResponse(request, "admin/dashboard.html", context)
