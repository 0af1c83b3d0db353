"""Browser tests: Debian's headless Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os

import pytest

from tests.gates import require_chromium, require_postgresql, require_redis

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    """One browser per module. Playwright's sync API keeps an event loop running in this thread
    while it is open, so it is closed after each module and Django's async-safety check is
    relaxed only meanwhile (the ORM is used from the test body between page actions)."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium, live_server, settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def asgi_server(transactional_db):
    """The real ASGI application (uvicorn, websockets included) in a subprocess, on the test
    database and the Redis channel layer the test process uses, so pushes made by the test
    reach browsers connected to it. Needs PostgreSQL and Redis (a second process cannot share
    SQLite's in-memory test database or the in-memory channel layer)."""
    from django.conf import settings
    from django.db import connection

    from bench._harness import asgi_server as start_asgi_server  # the benches' server runner

    require_postgresql()
    redis_url = require_redis()
    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    database_url = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = dict(
        os.environ,
        DATABASE_URL=f"{database_url}/{db['NAME']}",
        REDIS_URL=redis_url,
        CHANNEL_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "lantai"),
        DEBUG="true",
        DATABASE_POOL_SIZE="0",
    )
    with start_asgi_server("uvicorn", env) as url:
        yield url


@pytest.fixture
def asgi_server_embedded(transactional_db, settings):
    """The real ASGI server as the embedded default runs it: no Redis, so pushes from other
    processes (this test process plays the alarm engine) travel through the database relay
    (core/live.py). Needs PostgreSQL (a second process cannot share SQLite's in-memory test
    database)."""
    from django.db import connection

    from bench._harness import asgi_server as start_asgi_server

    require_postgresql()
    settings.LIVE_PUSH_VIA_DATABASE = True  # this process publishes as the workers would
    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    database_url = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=f"{database_url}/{db['NAME']}",
        LIVE_PUSH_VIA_DATABASE="true",
        DEBUG="true",
        DATABASE_POOL_SIZE="0",
    )
    with start_asgi_server("uvicorn", env) as url:
        yield url


def signed_in_page(chromium, base_url: str, user, **options):
    """A phone-sized page on ``base_url`` already signed in as ``user`` (a session made here,
    stored in the shared database: no password round trip)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = chromium.new_context(viewport=PHONE, locale="zh-CN", base_url=base_url, **options)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def collect_console_errors(page) -> list[str]:
    """Console errors of ``page`` as they happen, except the failed websocket handshake of the
    live notices: pytest-django's live server speaks WSGI only (the ``asgi_server`` tests cover
    websockets), so every page's notice socket is refused with a 404 there."""
    errors: list[str] = []

    def keep(message) -> None:
        text = message.text
        if message.type == "error" and not ("/ws/notifications/" in text and "404" in text):
            errors.append(text)

    page.on("console", keep)
    return errors
