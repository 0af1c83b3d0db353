from importlib import import_module

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import metrics, views
from core.api import router

# Apps that bring pages (``<app>/urls.py``) and API (``<app>/api.py``).
APPS = ["accounts", "repository", "borrowing", "storage_env", "devices", "search"]

api_urlpatterns = []
for app in APPS:
    module = import_module(f"{app}.api")  # registers viewsets on the router
    api_urlpatterns += getattr(module, "api_urlpatterns", [])

public_patterns = ([path("", views.public_home, name="home")], "public")
staff_patterns = ([path("", views.staff_home, name="home")], "staff")

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", include(public_patterns)),
    path("staff/", include(staff_patterns)),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", include(api_urlpatterns)),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("staff/admin/", admin.site.urls),
    *[path("", include(f"{app}.urls")) for app in APPS if app != "accounts"],
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
