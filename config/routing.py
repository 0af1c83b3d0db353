"""Websocket routes under ``/ws/``: the accounts notices plus the ``routing.py`` of each app that
has websockets (add yours to the list), and a last route that closes any other path with 4404."""

from importlib import import_module

from django.urls import path, re_path

from accounts.consumers import NotificationConsumer
from core.consumers import NotFoundConsumer

websocket_urlpatterns = [path("ws/notifications/", NotificationConsumer.as_asgi())]
for app in ["storage_env"]:
    websocket_urlpatterns += import_module(f"{app}.routing").websocket_urlpatterns
# Last: any other path closes with 4404.
websocket_urlpatterns.append(re_path(r"", NotFoundConsumer.as_asgi()))
