"""URLs for the error-page test: the project's URLs plus a view that fails."""

from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [path("boom/", boom), *project_urlpatterns]
handler500 = "config.views.server_error"
