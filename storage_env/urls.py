"""URLs of the storage_env app, mounted at the site root by config/urls.py.

Staff pages go under `staff/...`, public pages at the root, phone pages under `m/...`.
"""

from django.urls import path  # noqa: F401

app_name = "storage_env"

urlpatterns: list = []
