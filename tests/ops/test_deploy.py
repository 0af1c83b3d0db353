"""The production kit in deploy/ (issue 18): every systemd unit verifies, the nginx site passes
``nginx -t``, and the real nginx in front of Uvicorn serves a page, static files, a websocket,
a protected scan (X-Accel-Redirect) and takes the client's address from the proxy only."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from websockets.sync.client import connect as ws_connect

from tests.gates import missing, require_postgresql
from tests.ops.front import DEPLOY, locations, nginx_conf, plain_http_site
from tests.repository.conftest import fonds_a, make_item, ws  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
INSTANCES = [
    "mqtt_ingest",
    "evaluate_alarms",
    "search_sync",
    "ocr_pages",
    "send_notifications",
    "run_imports",
]
DEV_ONLY = {"mqtt_broker", "simulate_sensors"}  # make run's embedded broker and demo sensors
JOBS = ["expire_grants", "send_overdue_reminders"]


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else ""
    )
    if not found:
        missing("nginx not installed (apt-get install nginx)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


# --- systemd ----------------------------------------------------------------------------------


def test_production_runs_every_worker_make_run_starts():
    """The class of a worker missing from production (``ocr_pages`` was: a systemd machine never
    read a scanned page): every long-running command of ``scripts/run.py`` is in the target."""
    spec = importlib.util.spec_from_file_location("lantai_run", ROOT / "scripts" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    started = {command for _, command, _, _ in run.WORKERS if command} - DEV_ONLY
    assert started == set(INSTANCES)
    target = (DEPLOY / "systemd" / "lantai.target").read_text()
    unit = (DEPLOY / "systemd" / "lantai-worker@.service").read_text()
    for name in started:
        assert f"lantai-worker@{name}.service" in target
        assert f"lantai-worker@{name}" in unit  # listed in the unit's own comment


def test_every_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing("systemd-analyze not installed (apt-get install systemd)")
    units = []
    for source in sorted((DEPLOY / "systemd").iterdir()):
        text = source.read_text().replace("/opt/lantai", str(ROOT))  # the checkout's venv
        names = [source.name]
        if source.name == "lantai-worker@.service":
            names = [f"lantai-worker@{name}.service" for name in INSTANCES]
        elif source.name == "lantai-job@.service":
            names = [f"lantai-job@{name}.service" for name in JOBS]
        for name in names:
            (tmp_path / name).write_text(text)
            units.append(f"./{name}")
    # every worker and job the target and timers name is a unit we ship
    target = (DEPLOY / "systemd" / "lantai.target").read_text()
    for name in INSTANCES:
        assert f"lantai-worker@{name}.service" in target
    for job in JOBS:
        timers = " ".join(p.read_text() for p in (DEPLOY / "systemd").glob("*.timer"))
        assert f"lantai-job@{job}.service" in timers
    done = subprocess.run(
        [analyze, "verify", "--man=no", *units],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "info"},
    )
    # warnings (an unknown key, a missing executable) are printed: any output is a failure
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stderr


# --- nginx --------------------------------------------------------------------------------------


def test_the_nginx_site_passes_nginx_t(tmp_path):
    nginx = nginx_binary()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=archive.example.org", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    snippet = locations(tmp_path)
    site = (
        (DEPLOY / "nginx" / "lantai.conf")
        .read_text()
        .replace("/etc/lantai/tls/fullchain.pem", str(tmp_path / "cert.pem"))
        .replace("/etc/lantai/tls/privkey.pem", str(tmp_path / "key.pem"))
        .replace("/etc/nginx/snippets/lantai-locations.conf", str(snippet))
    )
    conf = nginx_conf(tmp_path, site)
    done = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


@pytest.fixture
def front(transactional_db, tmp_path, settings):
    """Uvicorn (production settings) on the test database, the deployed nginx locations in
    front; yields the nginx base URL."""
    require_postgresql()
    nginx = nginx_binary()
    media, static = tmp_path / "media", tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "probe.css").write_text("body{}")
    settings.MEDIA_ROOT = media
    app_port, front_port = free_port(), free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,  # the sessions the test makes are valid there
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL_SIZE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TRUSTED_PROXIES": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "STATIC_MANIFEST": "false",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(static),
        "X_ACCEL_REDIRECT_PREFIX": "/_protected/",
        "LANTAI_VAR_DIR": str(tmp_path),
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(app_port), "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
         "--no-server-header", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    conf = plain_http_site(tmp_path, app_port, front_port)
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)])
    try:
        wait_port(app_port, app)
        wait_port(front_port, proxy)
        yield f"127.0.0.1:{front_port}"
    finally:
        for process in (proxy, app):
            process.terminate()
        for process in (proxy, app):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_a_page_static_files_a_websocket_and_a_scan_through_nginx(front, ws, archivist_a):  # noqa: F811
    from axes.models import AccessAttempt

    from repository import images
    from tests.repository.test_images import jpeg_with_exif

    item = make_item(ws)
    page = images.add_digital_page(
        item, SimpleUploadedFile("scan.jpg", jpeg_with_exif()), acting_user=archivist_a
    )
    with page.original.open("rb") as handle:
        original = handle.read()
    base = f"http://{front}"
    with httpx.Client(base_url=base, timeout=20) as anonymous:
        home = anonymous.get("/")
        assert home.status_code == 200 and "<html" in home.text
        assert anonymous.get("/static/css/probe.css").text == "body{}"
        # uploaded files are never served straight from disk, nor the internal location
        assert anonymous.get(f"/media/{page.original.name}").status_code == 404
        assert anonymous.get(f"/_protected/{page.original.name}").status_code == 404
        # the client's address is the one nginx saw, whatever the client writes
        login = anonymous.get("/accounts/login/")
        token = anonymous.cookies["csrftoken"]
        refused = anonymous.post(
            "/accounts/login/",
            data={"username": "archivist_a", "password": "wrong", "csrfmiddlewaretoken": token},
            headers={"X-Forwarded-For": "203.0.113.9", "Referer": f"{base}/accounts/login/"},
        )
        assert login.status_code == 200 and refused.status_code == 200
        attempt = AccessAttempt.objects.get(username="archivist_a")
        assert attempt.ip_address == "127.0.0.1"

    cookie = session_cookie(archivist_a)
    with httpx.Client(base_url=base, timeout=20, cookies={"sessionid": cookie}) as staff:
        scan = staff.get(f"/staff/catalogue/pages/{page.pk}/original/")
        assert scan.status_code == 200
        assert scan.content == original  # sent by nginx from disk
        assert "x-accel-redirect" not in scan.headers
        assert scan.headers["content-type"] == "image/jpeg"

    with ws_connect(
        f"ws://{front}/ws/notifications/",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": base},
        open_timeout=10,
    ) as socket_:
        socket_.send(json.dumps({"type": "ping"}))
        assert json.loads(socket_.recv(timeout=10)) == {"type": "pong"}


def test_behind_nginx_the_app_names_the_scan_and_sends_no_bytes(
    ws,  # noqa: F811
    archivist_a,
    researcher,
    client_for,
    settings,
    tmp_path,
):
    from repository import images
    from tests.repository.test_images import jpeg_with_exif

    settings.MEDIA_ROOT = tmp_path
    settings.X_ACCEL_REDIRECT_PREFIX = "/_protected/"
    page = images.add_digital_page(
        make_item(ws), SimpleUploadedFile("scan 1.jpg", jpeg_with_exif()), acting_user=archivist_a
    )
    url = f"/staff/catalogue/pages/{page.pk}/original/"
    response = client_for(archivist_a).get(url)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_protected/" + page.original.name.replace(" ", "%20")
    assert response["Content-Type"] == "image/jpeg"
    # the view still decides: no header for someone who may not see the original
    assert "X-Accel-Redirect" not in client_for(researcher).get(url)
