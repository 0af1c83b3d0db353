"""Websocket routes of the storage_env app (under `ws/`), collected by config/routing.py."""

from django.urls import path

from storage_env.consumers import ClimateConsumer

websocket_urlpatterns: list = [path("ws/climate/", ClimateConsumer.as_asgi())]
