"""Websocket routes under ``/ws/``: the accounts notices plus each app's ``routing.py``."""

from importlib import import_module

from django.urls import path

from accounts.consumers import NotificationConsumer

websocket_urlpatterns = [path("ws/notifications/", NotificationConsumer.as_asgi())]
for app in ["repository", "borrowing", "storage_env", "devices", "search"]:
    websocket_urlpatterns += import_module(f"{app}.routing").websocket_urlpatterns
