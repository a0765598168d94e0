from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from console.dashboard import dashboard_context


def dashboard(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Registry dashboard", **dashboard_context()}
    return TemplateResponse(request, "admin/dashboard.html", context)
