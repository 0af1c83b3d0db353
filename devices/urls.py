"""URLs of the devices app, mounted at the site root by config/urls.py."""

from django.urls import path

from devices import views

app_name = "devices"

urlpatterns: list = [
    path("staff/devices/", views.sensors, name="sensors"),
    path("staff/devices/discovered/<int:pk>/assign/", views.assign, name="assign"),
]
