from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import accounts.api  # noqa: F401  (registers viewsets on the router)
from config import views
from config.api import router

public_patterns = (
    [
        path("", views.public_home, name="home"),
    ],
    "public",
)

staff_patterns = (
    [
        path("", views.staff_home, name="home"),
    ],
    "staff",
)

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("", include(public_patterns)),
    path("staff/", include(staff_patterns)),
    path("accounts/", include("accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include("accounts.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("staff/admin/", admin.site.urls),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
