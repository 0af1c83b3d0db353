"""Websocket routes of the devices app (under `ws/`), collected by config/routing.py."""

from django.urls import path  # noqa: F401

websocket_urlpatterns: list = []
