"""Shared fixtures: personas for access tests, service gates, and the CI no-skip rule."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import role_group
from tests.gates import IN_CI

PASSWORD = "persona-pass-2026"

# name -> (roles, clearance). ``public`` is the anonymous visitor and has no user.
PERSONAS: dict[str, tuple[tuple[str, ...], int]] = {
    "researcher": ((Role.RESEARCHER,), Classification.NONE),
    "front_desk": ((Role.FRONT_DESK,), Classification.NONE),
    "keeper": ((Role.KEEPER,), Classification.NONE),
    "archivist_a": ((Role.ARCHIVIST,), Classification.SECRET),  # fonds A only
    "approver_secret": ((Role.APPROVER,), Classification.CONFIDENTIAL),  # cleared to 机密
    "admin": ((Role.ADMINISTRATOR,), Classification.TOP_SECRET),
    "outsider": ((), Classification.NONE),  # signed in, no role, no permission
}


def make_persona(name: str) -> User:
    roles, clearance = PERSONAS[name]
    user = User.objects.create_user(
        username=name, password=PASSWORD, clearance=clearance, display_name=name
    )
    user.groups.set([role_group(role) for role in roles])
    return user


@pytest.fixture
def personas(db) -> dict[str, User | None]:
    """Every persona; ``public`` is ``None`` (anonymous)."""
    users: dict[str, User | None] = {"public": None}
    for name in PERSONAS:
        users[name] = make_persona(name)
    return users


def _persona_fixture(name: str):
    @pytest.fixture(name=name)
    def fixture(db) -> User:
        return User.objects.filter(username=name).first() or make_persona(name)

    return fixture


researcher = _persona_fixture("researcher")
front_desk = _persona_fixture("front_desk")
keeper = _persona_fixture("keeper")
archivist_a = _persona_fixture("archivist_a")
approver_secret = _persona_fixture("approver_secret")
admin_user = _persona_fixture("admin")
outsider = _persona_fixture("outsider")


@pytest.fixture
def client_for(db):
    """``client_for(user)`` → a test client signed in as ``user`` (anonymous for ``None``)."""

    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _direct_live_push(settings):
    """Tests push straight through the channel layer (in-memory or Redis) as in production
    with Redis; tests of the embedded default's database relay turn it on themselves."""
    settings.LIVE_PUSH_VIA_DATABASE = False


@pytest.fixture(autouse=True)
def _reset_caches():
    """Each test starts with clean caches (login lock-outs, throttles, backend choice) and a
    fresh channel layer: a Redis layer binds locks to the event loop of the test that first
    used it, and pytest-asyncio gives every async test a new loop."""
    from channels.layers import channel_layers
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    from search.backends import get_backend

    for alias in caches.settings:  # the database cache goes with the test database
        if not isinstance(caches[alias], DatabaseCache):
            caches[alias].clear()
    get_backend.cache_clear()
    channel_layers.backends.clear()
    yield
    get_backend.cache_clear()
    channel_layers.backends.clear()


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: every service is provided there."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; in CI nothing may skip", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
