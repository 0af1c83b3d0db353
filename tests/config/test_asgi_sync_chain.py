"""``config.asgi.SyncChainASGIHandler`` overrides two methods of Django's ``ASGIHandler``; these
tests pin the Django behaviour it relies on (see docs/asgi-sync-chain.md), so a Django upgrade
that changes it fails here rather than silently undoing the one-hop request."""

from __future__ import annotations

import inspect
import re
import threading
import tomllib
from pathlib import Path

import django
import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.urls import path

from config.asgi import SyncChainASGIHandler

ROOT = Path(__file__).resolve().parents[2]
SEEN: list[tuple[str, int]] = []


class RecordingMiddleware:
    """A sync-only middleware (like WhiteNoise): records the thread it runs in."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        SEEN.append(("middleware request", threading.get_ident()))
        response = self.get_response(request)
        SEEN.append(("middleware response", threading.get_ident()))
        return response


def recording_view(request):
    SEEN.append(("view", threading.get_ident()))
    return HttpResponse("ok")


urlpatterns = [path("sync-chain/", recording_view)]


def get(app, url: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 40000),
        "server": ("localhost", 80),
    }

    async def run():
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(30)
        body = b""
        while True:
            message = await communicator.receive_output(30)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(30)
        return start["status"], body

    return async_to_sync(run)()


@pytest.fixture
def recording(settings):
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["localhost"]
    middleware = "tests.config.test_asgi_sync_chain.RecordingMiddleware"
    settings.MIDDLEWARE = [middleware, *settings.MIDDLEWARE, middleware]
    SEEN.clear()
    return SEEN


def test_django_asks_for_an_async_chain_and_gets_a_sync_one_here(recording):
    """Django's ``ASGIHandler.__init__`` calls ``load_middleware(is_async=True)``: the
    override is what turns it into a sync chain."""
    calls = []

    class Spy(ASGIHandler):
        def load_middleware(self, is_async=False):
            calls.append(is_async)
            super().load_middleware(is_async=is_async)

    stock = Spy()
    assert calls == [True]
    assert iscoroutinefunction(stock._middleware_chain)
    ours = SyncChainASGIHandler()
    assert not iscoroutinefunction(ours._middleware_chain)


def test_django_answers_through_get_response_async():
    """``ASGIHandler.run_get_response`` awaits ``self.get_response_async``: the one method the
    handler replaces to run the whole chain in one worker thread."""
    source = inspect.getsource(ASGIHandler.run_get_response)
    assert "await self.get_response_async(request)" in source


@pytest.mark.django_db(transaction=True)
def test_a_request_runs_middleware_and_view_in_one_thread(recording):
    handler = SyncChainASGIHandler()
    calls = []
    original = handler.get_response_async

    async def spy(request):
        calls.append(request.path)
        return await original(request)

    handler.get_response_async = spy
    status, body = get(handler, "/sync-chain/")
    assert (status, body) == (200, b"ok")
    assert calls == ["/sync-chain/"]
    assert [step for step, _ in recording] == [
        "middleware request",
        "middleware request",
        "view",
        "middleware response",
        "middleware response",
    ]
    threads = {thread for _, thread in recording}
    assert len(threads) == 1
    assert threads != {threading.get_ident()}  # a worker thread, not the caller's


def test_django_is_pinned_to_the_tested_minor():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [
        d for d in pyproject["project"]["dependencies"] if re.match(r"django *[<>=~!]", d, re.I)
    ]
    major, minor = django.VERSION[:2]
    assert pins == [f"Django>={major}.{minor},<{major}.{minor + 1}"]
    assert settings.ASGI_APPLICATION == "config.asgi.application"
