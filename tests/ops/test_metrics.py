"""Prometheus metrics (issue 18): ``/metrics`` only for METRICS_ALLOWED_IPS (the client's address
through TRUSTED_PROXIES), requests by route and status with latency, the state read from the
database, and a real scrape of several Uvicorn workers summed in multiprocess mode."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import math
import os
import subprocess
import sys
import threading

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import WorkerHeartbeat
from devices.models import DeadLetter, IngestState
from search.models import OutboxEntry
from storage_env.models import Alarm
from tests.gates import require_postgresql
from tests.ops.test_deploy import ROOT, free_port, wait_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client, **extra) -> dict:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


@pytest.mark.django_db
def test_only_the_configured_addresses_may_read_metrics(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 404
    # a client cannot write its way in
    spoofed = client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.status_code == 404
    # behind nginx: the address nginx vouches for counts, not nginx's own
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    via_proxy = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "10.0.0.5"}
    assert client.get("/metrics", **via_proxy).status_code == 404
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/24"]
    assert client.get("/metrics", **via_proxy).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.post("/metrics", **via_proxy).status_code == 405


@pytest.mark.django_db
def test_requests_are_counted_by_route_and_status_with_their_latency(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/livez").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("lantai_http_requests_total", method="GET", route="livez", status="200") == 3
    assert delta("lantai_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert delta("lantai_http_request_duration_seconds_count", method="GET", route="livez") == 3
    assert (
        delta("lantai_http_request_duration_seconds_bucket", method="GET", route="livez", le="+Inf")
        == 3
    )
    # the route is the pattern, never the path: one label for every record
    assert not any("no-such-page" in str(key) for key in after)


@pytest.mark.django_db
def test_the_state_metrics_are_read_from_the_database(client):
    now = timezone.now()
    found = scrape(client)
    assert value(found, "lantai_metrics_database_up") == 1
    assert value(found, "lantai_alarms_open", severity="critical") == 0
    assert value(found, "lantai_search_outbox_backlog") == 0
    assert value(found, "lantai_backup_age_seconds", job="backup") == math.inf

    for severity, state in [("critical", "raised"), ("critical", "acknowledged"),
                            ("minor", "raised"), ("major", "closed")]:  # fmt: skip
        Alarm.objects.create(
            rule="temp_high", subject=f"room:{severity}:{state}", severity=severity,
            state=state, message="hot", raised_at=now,
        )  # fmt: skip
    DeadLetter.objects.create(topic="x", payload=b"{", payload_size=1, reason="bad_json")
    DeadLetter.objects.create(topic="x", payload=b"{", payload_size=1, reason="bad_json")
    DeadLetter.objects.create(topic="y", payload=b"", payload_size=0, reason="bad_topic")
    for n in range(4):
        OutboxEntry.objects.create(model_label="repository.item", object_id=n, attempts=n)
    OutboxEntry.objects.update(created_at=now - dt.timedelta(seconds=90))
    IngestState.objects.create(
        client_id="ingest-1", heartbeat_at=now - dt.timedelta(seconds=3), connected=True,
        received=1000, stored=990, duplicates=4, dead_lettered=6, refused=0, buffered=17,
    )  # fmt: skip
    for name, age in [("search_sync", 5), ("search_sync", 400), ("backup", 7200)]:
        WorkerHeartbeat.objects.create(
            name=name, instance=f"h:{age}", started_at=now - dt.timedelta(days=1),
            beat_at=now - dt.timedelta(seconds=age), stale_after=60,
        )  # fmt: skip

    found = scrape(client)
    assert value(found, "lantai_alarms_open", severity="critical") == 2
    assert value(found, "lantai_alarms_open", severity="minor") == 1
    assert value(found, "lantai_alarms_open", severity="major") == 0  # closed is not open
    assert value(found, "lantai_dead_letters", reason="bad_json") == 2
    assert value(found, "lantai_dead_letters", reason="bad_topic") == 1
    assert value(found, "lantai_search_outbox_backlog") == 4
    assert value(found, "lantai_search_outbox_max_attempts") == 3
    assert 90 <= value(found, "lantai_search_outbox_oldest_age_seconds") < 150
    assert value(found, "lantai_ingest_readings_stored_total", client_id="ingest-1") == 990
    assert value(found, "lantai_ingest_dead_lettered_total", client_id="ingest-1") == 6
    assert value(found, "lantai_ingest_buffered", client_id="ingest-1") == 17
    assert value(found, "lantai_ingest_connected", client_id="ingest-1") == 1
    assert 3 <= value(found, "lantai_ingest_heartbeat_age_seconds", client_id="ingest-1") < 60
    # the freshest instance of a worker counts
    assert 5 <= value(found, "lantai_worker_heartbeat_age_seconds", worker="search_sync") < 60
    assert 7200 <= value(found, "lantai_backup_age_seconds", job="backup") < 7260
    backup_at = value(found, "lantai_backup_last_success_timestamp_seconds", job="backup")
    assert abs(backup_at - (now.timestamp() - 7200)) < 60
    assert value(found, "lantai_backup_age_seconds", job="backup_verify") == math.inf


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Two Uvicorn workers (production settings) on the test database, in multiprocess mode."""
    require_postgresql()
    port = free_port()
    db = connection.settings_dict
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "metrics-test-secret-key-" + "x" * 40,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL_SIZE": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
        "LANTAI_VAR_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_port(port, app)
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        app.terminate()
        try:
            app.wait(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()


def test_a_real_scrape_sums_every_worker_process(workers):
    base, metrics_dir = workers
    for _ in range(20):  # a new connection each: the kernel spreads them over the workers
        assert httpx.get(f"{base}/livez").status_code == 200
    assert httpx.get(f"{base}/nowhere").status_code == 404
    response = httpx.get(f"{base}/metrics")
    assert response.status_code == 200
    found = samples(response.text)
    assert (
        value(found, "lantai_http_requests_total", method="GET", route="livez", status="200") == 20
    )
    assert (
        value(found, "lantai_http_request_duration_seconds_count", method="GET", route="livez")
        == 20
    )
    assert value(found, "lantai_metrics_database_up") == 1
    assert value(found, "lantai_alarms_open", severity="critical") == 0
    assert list(metrics_dir.glob("counter_*.db"))  # each process writes its own file


def test_errors_are_reported_to_a_sentry_dsn_without_personal_data(tmp_path):
    """A real SDK against a local HTTP server standing in for a self-hosted Sentry."""
    received: list[bytes] = []

    class Ingest(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            elif self.headers.get("Content-Encoding") == "br":
                pytest.fail("brotli-encoded envelope")
            received.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    script = (
        "import django, logging, sentry_sdk; django.setup(); "
        "logging.getLogger('lantai.test').error('the archive caught fire'); "
        "sentry_sdk.flush(timeout=5)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "LANTAI_VAR_DIR": str(tmp_path),
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/7",
        "SENTRY_ENVIRONMENT": "test-intranet",
    }
    try:
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    text = b"\n".join(received).decode()
    assert "the archive caught fire" in text
    assert '"environment":"test-intranet"' in text
    assert '"release":"lantai' in text


def test_without_a_dsn_the_sdk_is_not_loaded(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true",
           "LANTAI_VAR_DIR": str(tmp_path)}  # fmt: skip
    env.pop("SENTRY_DSN", None)
    script = "import django, sys; django.setup(); print('sentry_sdk' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "False"
