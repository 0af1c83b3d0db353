"""Gates for tests that need a real external service.

Locally a missing service skips the test with the reason printed. In CI (``CI=true``) every
service must be there: a missing one fails the test instead, and the session hook in
``tests/conftest.py`` fails the run if anything was skipped at all.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_redis() -> str:
    if not settings.REDIS_URL:
        missing("REDIS_URL is not set (Redis channel layer not configured)")
    if not reachable(settings.REDIS_URL, 6379):
        missing(f"Redis at {settings.REDIS_URL} is not reachable")
    return settings.REDIS_URL


def require_mqtt() -> str:
    if not settings.MQTT_URL:
        missing("MQTT_URL is not set (no MQTT broker for tests)")
    if not reachable(settings.MQTT_URL, 1883):
        missing(f"MQTT broker at {settings.MQTT_URL} is not reachable")
    return settings.MQTT_URL


def require_elasticsearch() -> str:
    if not settings.ELASTICSEARCH_URL:
        missing("ELASTICSEARCH_URL is not set (start scripts/es-test-server.sh)")
    if not reachable(settings.ELASTICSEARCH_URL, 9200):
        missing(f"Elasticsearch at {settings.ELASTICSEARCH_URL} is not reachable")
    return settings.ELASTICSEARCH_URL


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        missing("the database is not PostgreSQL (set DATABASE_URL=postgres://...)")


CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def require_chromium() -> str:
    explicit = os.environ.get("CHROMIUM_PATH")
    for path in (explicit,) if explicit else CHROMIUM_PATHS:
        if path and os.path.exists(path):
            return path
    missing("headless Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)")
    raise AssertionError("unreachable")
