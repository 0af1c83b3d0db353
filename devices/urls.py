"""URLs of the devices app, mounted at the site root by config/urls.py."""

from django.urls import path

from devices import views

app_name = "devices"

urlpatterns: list = [
    path("staff/devices/", views.sensors, name="sensors"),
    path("staff/devices/discovered/<int:pk>/assign/", views.assign, name="assign"),
    path("staff/devices/sources/", views.sources, name="sources"),
    path("staff/devices/sources/new/", views.source_edit, name="source_new"),
    path("staff/devices/sources/<int:pk>/", views.source_edit, name="source_edit"),
    path("staff/devices/sources/<int:pk>/delete/", views.source_delete, name="source_delete"),
]
