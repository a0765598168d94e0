from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from console import views as console_views

admin.site.site_header = "Agent registry"
admin.site.site_title = "Agent registry admin"
admin.site.index_title = "Registry administration"
# The lists staff work in need the width at 1366 px; the breadcrumbs and the index navigate.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", RedirectView.as_view(url="/registry/", permanent=False)),
    path("admin/dashboard/", admin.site.admin_view(console_views.dashboard), name="admin-dashboard"),
    path("admin/django-rq/", include((console_views.job_queue_urls(), "django_rq"))),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="registry/redoc.html"),
        name="api-redoc",
    ),
    path("", include("registry.urls")),
    path("", include("members.urls")),
    path("", include("crawler.urls")),
    path("", include("credentials.urls")),
    path("", include("notifications.urls")),
]
