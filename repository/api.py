"""REST API of the repository app: register viewsets on `config.api.router`; extra API paths
(non-viewset views) go in `api_urlpatterns`, mounted under /api/v1/."""

from django.urls import path  # noqa: F401

from config.api import router  # noqa: F401

api_urlpatterns: list = []
