"""Health split (issue 18): /livez, /readyz (database) and /healthz (every part) each answer
within a second while a private PostgreSQL path or a private Redis is down, and a load
balancer's /readyz stays 200 when only Redis is gone. A real uvicorn process; the database is
reached through a forwarder the test can black-hole (a hung server: connections accepted,
never answered), Redis is a private redis-server the test kills."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from tests.gates import missing, require_postgresql
from tests.ops.test_deploy import ROOT, free_port, wait_port


class Forwarder:
    """TCP forwarder to PostgreSQL that can be black-holed and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if not self.up:
                continue  # held open, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while self.up and (data := source.recv(65536)):
                sink.sendall(data)
        except OSError:
            pass

    def blackhole(self) -> None:
        self.up = False
        for sock in self.sockets:  # established connections are cut
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def timed_get(base: str, path: str) -> tuple[int, float, dict]:
    started = time.monotonic()
    response = httpx.get(base + path, timeout=5)
    return response.status_code, time.monotonic() - started, response.json()


def probe_all(base: str) -> dict[str, tuple[int, float, dict]]:
    """The three probes at once (a watchdog, a load balancer and a monitor polling)."""
    paths = ["/livez", "/readyz", "/healthz"]
    with ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(lambda path: (path, timed_get(base, path)), paths))
    for path, (_status, seconds, _body) in answers:
        assert seconds < 1.0, f"{path} took {seconds:.2f} s"
    return dict(answers)


@pytest.fixture
def redis_server(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, process)
    yield port, process
    process.kill()
    process.wait()


def test_every_probe_answers_within_a_second_while_redis_or_the_database_is_down(
    transactional_db, redis_server, tmp_path, settings
):
    require_postgresql()
    db = connection.settings_dict
    forwarder = Forwarder((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    redis_port, redis_process = redis_server
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{forwarder.port}/{db['NAME']}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
        "LANTAI_VAR_DIR": str(tmp_path),
    }
    env.pop("ELASTICSEARCH_URL", None)  # search: the database backend (Elasticsearch: CI's own)
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, app)
        httpx.get(base + "/livez", timeout=10)  # first request: Django's imports
        answers = probe_all(base)
        assert answers["/livez"][0] == 200 and answers["/readyz"][0] == 200
        assert answers["/healthz"][2]["checks"]["channel_layer"]["ok"] is True

        # Redis gone: pages still served, so the node stays in the load balancer
        redis_process.kill()
        redis_process.wait()
        answers = probe_all(base)
        assert answers["/readyz"][0] == 200
        status, _seconds, body = answers["/healthz"]
        assert status == 503 and body["checks"]["channel_layer"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        # no host, port or error text to an anonymous caller
        assert str(redis_port) not in str(body) and "127.0.0.1" not in str(body)

        # the database hangs (accepts, never answers): still an answer within a second
        forwarder.blackhole()
        answers = probe_all(base)
        assert answers["/livez"][0] == 200
        status, _seconds, body = answers["/readyz"]
        assert status == 503 and body["checks"]["database"]["error"] == "timeout"
        assert answers["/healthz"][0] == 503
        answers = probe_all(base)  # again, while the first probes' checks still hang
        assert answers["/readyz"][0] == 503

        # the database is back: ready again without a restart
        forwarder.restore()
        deadline = time.monotonic() + 15
        while timed_get(base, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "not ready 15 s after the database returned"
            time.sleep(0.2)
    finally:
        app.terminate()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
        forwarder.close()


def test_hosts_and_errors_only_for_administrators(client_for, admin_user, archivist_a, settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    channel_layers.backends.clear()
    try:
        public = client_for(None).get("/healthz").json()["checks"]["channel_layer"]
        staff = client_for(archivist_a).get("/healthz").json()["checks"]["channel_layer"]
        admin = client_for(admin_user).get("/healthz").json()["checks"]["channel_layer"]
    finally:
        channel_layers.backends.clear()
    public.pop("ms"), staff.pop("ms")
    assert public == staff
    assert public["error"] == "unavailable" and "127.0.0.1" not in str(public)
    assert "127.0.0.1" in admin["error"] or "Connect" in admin["error"]


def test_livez_touches_nothing_and_readyz_only_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/livez").json() == {"status": "ok"}
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and set(body["checks"]) == {"database"}
