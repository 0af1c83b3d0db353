"""Abuse controls behind a proxy: API throttles and the login lock-out count the client's real
address (core/client_ip.py, TRUSTED_PROXIES), never a client-written X-Forwarded-For, and count
it in a cache every server process shares (Redis, else the database)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import time_machine
from django.db import connection
from django.test import Client, RequestFactory

from core.client_ip import client_ip
from core.throttling import AnonRateThrottle, ScopedRateThrottle
from tests.conftest import PASSWORD
from tests.gates import require_postgresql, require_redis

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
ITEMS = "/api/v1/items/"  # open to anonymous callers: the anonymous throttle applies
TOKEN = "/api/v1/auth/token/"  # the "login" scope
WRONG_PASSWORDS = 8  # more than LOGIN_FAILURE_LIMIT (5)


@pytest.fixture
def frozen():
    """The throttles' sliding window stands still: counts do not depend on the machine's speed."""
    with time_machine.travel(NOW, tick=False):
        yield


def forwarded(client: Client, path: str, xff: str, *, method: str = "get", **data):
    return getattr(client, method)(path, data or None, HTTP_X_FORWARDED_FOR=xff)


def anon_limit() -> int:
    return AnonRateThrottle().num_requests


def login_limit() -> int:
    throttle = ScopedRateThrottle()
    throttle.scope = "login"
    return throttle.parse_rate(throttle.get_rate())[0]


def request_from(remote_addr: str, xff: str | None = None):
    meta = {"REMOTE_ADDR": remote_addr}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


# --- the one resolver -----------------------------------------------------------------------


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    assert client_ip(request_from("::ffff:198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from("")) is None


def test_forwarded_for_is_walked_from_the_right_past_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # nginx (127.0.0.1) behind a load balancer (10.1.2.3); the client wrote the left-most entry
    chain = "198.51.100.1, 203.0.113.9, 10.1.2.3"
    assert client_ip(request_from("127.0.0.1", chain)) == "203.0.113.9"
    assert client_ip(request_from("127.0.0.1", "203.0.113.9:5555")) == "203.0.113.9"
    assert client_ip(request_from("127.0.0.1", "[2001:db8::1]:443")) == "2001:db8::1"
    # a peer that is not a trusted proxy: its header is not read at all
    assert client_ip(request_from("198.51.100.20", "10.9.9.9")) == "198.51.100.20"
    # every hop trusted: the left-most is the client; a malformed hop stops the walk
    assert client_ip(request_from("127.0.0.1", "10.0.0.5, 10.0.0.6")) == "10.0.0.5"
    assert client_ip(request_from("127.0.0.1", "garbage, 10.0.0.6")) == "10.0.0.6"
    assert client_ip(request_from("127.0.0.1", "")) == "127.0.0.1"


def test_a_bad_trusted_proxy_entry_refuses_to_start():
    env = dict(os.environ, DEBUG="true", TRUSTED_PROXIES="127.0.0.1,nginx")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'nginx'" in result.stderr


# --- an untrusted peer rotating X-Forwarded-For ---------------------------------------------


def test_rotating_forwarded_for_does_not_escape_the_anonymous_throttle(db, frozen):
    client = Client()
    codes = [
        forwarded(client, ITEMS, f"203.0.113.{i % 250}").status_code
        for i in range(anon_limit() + 20)
    ]
    assert codes.count(200) == anon_limit()
    assert codes[anon_limit() :] == [429] * 20


def test_rotating_forwarded_for_does_not_escape_the_token_throttle(front_desk, frozen):
    client = Client()
    codes = [
        forwarded(
            client, TOKEN, f"203.0.113.{i}", method="post", username="front_desk", password="x"
        ).status_code
        for i in range(3 * login_limit())
    ]
    assert len([code for code in codes if code != 429]) == login_limit()


def test_rotating_forwarded_for_does_not_escape_the_login_lock_out(front_desk):
    client = Client()
    for i in range(WRONG_PASSWORDS):
        form = {"username": "front_desk", "password": "wrong"}
        forwarded(client, "/accounts/login/", f"203.0.113.{i}", method="post", **form)
    form = {"username": "front_desk", "password": PASSWORD}
    response = forwarded(client, "/accounts/login/", "198.51.100.99", method="post", **form)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    token = forwarded(client, TOKEN, "198.51.100.98", method="post", **form)
    assert "token" not in token.json()


# --- behind a trusted proxy -------------------------------------------------------------------


def test_clients_behind_a_trusted_proxy_are_counted_separately(settings, front_desk, frozen):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's peer address
    alice, bob = Client(), Client()
    for _ in range(anon_limit()):
        assert forwarded(alice, ITEMS, "203.0.113.5").status_code == 200
    assert forwarded(alice, ITEMS, "203.0.113.5").status_code == 429
    assert forwarded(bob, ITEMS, "203.0.113.6").status_code == 200

    for _ in range(WRONG_PASSWORDS):
        form = {"username": "front_desk", "password": "wrong"}
        forwarded(alice, "/accounts/login/", "203.0.113.5", method="post", **form)
    form = {"username": "front_desk", "password": PASSWORD}
    response = forwarded(alice, "/accounts/login/", "203.0.113.5", method="post", **form)
    assert response.status_code == 429  # alice's address is locked out…
    assert "_auth_user_id" not in alice.session
    response = forwarded(bob, "/accounts/login/", "203.0.113.6", method="post", **form)
    assert response.status_code == 302  # …bob's, behind the same proxy, is not
    assert "_auth_user_id" in bob.session

    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_a_spoofed_chain_trusts_only_the_right_most_untrusted_hop(settings, db, frozen):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    client = Client()
    codes = [
        # the client prepends a new address (and a fake "trusted" one) on every request; the
        # load balancer 10.1.2.3 appended the address it really saw, 203.0.113.9
        forwarded(client, ITEMS, f"198.51.100.{i % 250}, 10.0.0.1, 203.0.113.9, 10.1.2.3")
        for i in range(anon_limit() + 5)
    ]
    assert [r.status_code for r in codes].count(200) == anon_limit()
    assert codes[-1].status_code == 429


# --- the shared cache -------------------------------------------------------------------------


def test_a_redis_outage_does_not_break_the_api(settings, db, frozen):
    """Throttles count per process while Redis is unreachable, and the API keeps answering."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    client = Client()
    codes = [client.get(ITEMS).status_code for _ in range(anon_limit() + 1)]
    assert codes == [200] * anon_limit() + [429]


def _server_env(**extra: str) -> dict[str, str]:
    """Environment of a real server process on this test's database."""
    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CACHE_REDIS_URL"}}
    env.update(
        DATABASE_URL=f"postgres://{login}@{host}/{db['NAME']}",
        DEBUG="true",
        DATABASE_POOL_SIZE="0",
        # hourly windows: the counts below cannot drift with the machine's speed
        API_THROTTLE_ANON="60/hour",
        API_THROTTLE_LOGIN="10/hour",
        # uvicorn's own X-Forwarded-For handling trusts the same proxies as the application
        # (by default it believes any loopback peer: the probe's lock-out escape)
        TRUSTED_PROXIES="",
        FORWARDED_ALLOW_IPS="",
    )
    env.update(extra)
    return env


def _two_servers(env: dict[str, str]):
    from bench._harness import asgi_server

    stack = ExitStack()
    urls = [stack.enter_context(asgi_server("uvicorn", env)) for _ in range(2)]
    return stack, urls


def _assert_limits_hold_across(urls: list[str]) -> None:
    with httpx.Client(timeout=30) as http:

        def get(i: int, xff: str | None = None) -> int:
            headers = {"X-Forwarded-For": xff} if xff else {}
            return http.get(urls[i % 2] + ITEMS, headers=headers).status_code

        def token(i: int, password: str) -> httpx.Response:
            return http.post(
                urls[i % 2] + TOKEN,
                data={"username": "front_desk", "password": password},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )

        # 150 anonymous calls against 60 an hour, alternating servers (per-process counting
        # let 120 through), then 50 more with a new forwarded address each time
        codes = [get(i) for i in range(150)]
        assert codes.count(200) == 60 and codes.count(429) == 90
        assert {get(i, f"198.51.100.{i}") for i in range(50)} == {429}

        # 8 wrong passwords, then the right one: refused while locked (then 21 more attempts)
        responses = [token(i, "wrong") for i in range(WRONG_PASSWORDS)]
        right = token(WRONG_PASSWORDS, PASSWORD)
        assert right.status_code in (400, 429) and "token" not in right.text
        responses += [right] + [token(i, "wrong") for i in range(21)]
        assert len([r for r in responses if r.status_code != 429]) == 10  # of 30


def _assert_trusted_proxy_counts_each_client(urls: list[str]) -> None:
    with httpx.Client(timeout=30) as http:

        def get(i: int, xff: str) -> int:
            return http.get(urls[i % 2] + ITEMS, headers={"X-Forwarded-For": xff}).status_code

        # alice rotates a spoofed prefix; the proxy appended her real address 203.0.113.5
        alice = [get(i, f"198.51.100.{i}, 203.0.113.5") for i in range(70)]
        assert alice.count(200) == 60
        assert get(0, "203.0.113.6") == 200  # bob, behind the same proxy, is counted apart
        assert get(1, "203.0.113.5") == 429


@pytest.fixture
def shared_database(transactional_db):
    require_postgresql()
    from tests.conftest import make_persona

    make_persona("front_desk")


@pytest.mark.service("postgres")
def test_limits_hold_across_two_processes_with_the_database_cache(shared_database):
    stack, urls = _two_servers(_server_env())
    with stack:
        _assert_limits_hold_across(urls)


@pytest.mark.service("redis")
def test_limits_hold_across_two_processes_with_the_redis_cache(shared_database):
    redis_url = require_redis()
    stack, urls = _two_servers(_server_env(REDIS_URL=redis_url))
    with stack:
        _assert_limits_hold_across(urls)


@pytest.mark.service("redis")
def test_two_processes_behind_a_trusted_proxy_count_each_client(shared_database):
    redis_url = require_redis()
    env = _server_env(
        REDIS_URL=redis_url, TRUSTED_PROXIES="127.0.0.1", FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    stack, urls = _two_servers(env)
    with stack:
        _assert_trusted_proxy_counts_each_client(urls)


# --- websockets go to this site only ----------------------------------------------------------


def test_websocket_connections_are_limited_to_this_site(db):
    policy = Client().get("/accounts/login/")["Content-Security-Policy"]
    connect = next(p for p in policy.split(";") if p.strip().startswith("connect-src"))
    assert connect.split() == ["connect-src", "'self'"]


def test_the_site_url_names_its_socket_origin_for_older_safari():
    env = dict(os.environ, DEBUG="true", SITE_URL="https://archive.example.org/")
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; "
            "print(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[\"'self'\", 'wss://archive.example.org']"
