"""Websocket routes under ``/ws/``. Each app adds its routes here."""

from django.urls import path

from accounts.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
