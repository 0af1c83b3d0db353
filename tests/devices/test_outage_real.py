"""Real faults: the database stops under load and comes back; the broker restarts.

Each uses a private server started for the test (a PostgreSQL cluster made with initdb, a
Mosquitto with persistence), so the shared services are never disturbed. The database outage
lasts LANTAI_FAULT_OUTAGE_SECONDS (default 5; the issue's 30 s with =30).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.utils import timezone

from devices.mqtt.client import BrokerConfig, make_client
from tests.gates import missing, require_mqtt

ROOT = Path(__file__).resolve().parents[2]
OUTAGE = float(os.environ.get("LANTAI_FAULT_OUTAGE_SECONDS", "5"))
pytestmark = pytest.mark.service("mqtt")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=30.0, step=0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.OperationalError):
            if predicate():
                return True
        time.sleep(step)
    return False


def server_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        missing(f"server binary {name} is not installed")
    return found[-1]


class PrivatePostgres:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="lantai_env_pg_")
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres")
        self.start()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/lantai_fault"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE lantai_fault")

    def dsn(self, name: str = "lantai_fault") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def run(self, name: str, *args: str) -> None:
        subprocess.run(
            [*self.as_user, server_binary(name), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            "pg_ctl",
            "-D",
            f"{self.dir}/data",
            "-o",
            options,
            "-l",
            f"{self.dir}/log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop")

    def scalar(self, sql: str):
        with psycopg.connect(self.dsn(), connect_timeout=2) as conn:
            return conn.execute(sql).fetchone()[0]

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def manage(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


SETUP = (
    "from repository.models import StoreRoom; from devices.models import Sensor; "
    "room = StoreRoom.objects.create(code='OUT', name='故障库房'); "
    "[Sensor.objects.create(sensor_id=f'O-{i}', room=room) for i in range(5)]"
)


class Publisher:
    def __init__(self, config: BrokerConfig, prefix: str) -> None:
        self.prefix = prefix
        self.client = make_client(f"pub-{uuid.uuid4().hex[:8]}", config=config)
        self.client.connect(config.host, config.port)
        self.client.loop_start()
        self.start = timezone.now() - dt.timedelta(hours=1)
        self.sent = 0

    def readings(self, n: int) -> None:
        infos = []
        for _ in range(n):
            ts = (self.start + dt.timedelta(seconds=self.sent)).isoformat()
            body = json.dumps({"ts": ts, "temperature": 20.0, "humidity": 50.0}).encode()
            topic = f"{self.prefix}/sensors/O-{self.sent % 5}/telemetry"
            infos.append(self.client.publish(topic, body, qos=1))
            self.sent += 1
        for info in infos:
            info.wait_for_publish(20)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    yield server
    server.destroy()


def test_database_outage_under_load_buffers_refuses_and_recovers(private_postgres):
    url = require_mqtt()
    prefix = f"lantai_env_outage_{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ, DATABASE_URL=private_postgres.url, MQTT_TOPIC_PREFIX=prefix, DEBUG="true"
    )
    env.pop("CI", None)
    assert manage(env, "migrate", "-v", "0").wait(180) == 0
    assert manage(env, "shell", "--no-imports", "-c", SETUP).wait(60) == 0
    worker = manage(env, "mqtt_ingest", "--client-id", f"ingest-{prefix}", "--buffer-limit", "300")
    publisher = Publisher(BrokerConfig.from_url(url), prefix)
    readings = "SELECT count(*) FROM storage_env_reading"
    try:
        assert wait_for(
            lambda: private_postgres.scalar("SELECT count(*) FROM devices_ingeststate") == 1, 30
        )
        time.sleep(1.0)
        publisher.readings(500)
        assert wait_for(lambda: private_postgres.scalar(readings) == 500, 30)
        private_postgres.stop()
        outage_started = time.monotonic()
        publisher.readings(1000)  # 300 held in memory, the rest refused (not acknowledged)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - outage_started)))
        assert worker.poll() is None  # still running
        private_postgres.start()
        assert wait_for(lambda: private_postgres.scalar(readings) >= 1500, 60)
        time.sleep(6)  # a heartbeat later
        assert private_postgres.scalar(readings) == 1500  # each exactly once
        assert private_postgres.scalar("SELECT refused FROM devices_ingeststate") > 0
        assert private_postgres.scalar("SELECT last_error FROM devices_ingeststate") == ""
        assert worker.poll() is None  # recovered without a restart
    finally:
        publisher.close()
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert "database unavailable" in out
    assert worker.returncode == 0, out


class PrivateMosquitto:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="lantai_env_mq_")
        self.port = free_port()
        with open(f"{self.dir}/mosquitto.conf", "w") as conf:
            conf.write(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {self.dir}/\nautosave_interval 1\n"
            )
        if os.geteuid() == 0:  # started as root, mosquitto drops to its own user
            with contextlib.suppress(LookupError):
                shutil.chown(self.dir, "mosquitto")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [server_binary("mosquitto"), "-c", f"{self.dir}/mosquitto.conf"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("private mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # saves its persistence file on the way out
            self.proc.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.django_db(transaction=True)
def test_broker_restart_worker_reconnects_and_resubscribes():
    from devices.ingest import IngestWorker
    from devices.models import Sensor
    from repository.models import StoreRoom
    from storage_env.models import Reading
    from tests.gates import require_postgresql

    require_postgresql()
    server_binary("mosquitto")
    broker = PrivateMosquitto()
    config = BrokerConfig(host="127.0.0.1", port=broker.port)
    prefix = f"lantai_env_restart_{uuid.uuid4().hex[:6]}"
    room = StoreRoom.objects.create(code="MQ", name="重启库房")
    for i in range(5):
        Sensor.objects.create(sensor_id=f"O-{i}", room=room)
    worker = IngestWorker(client_id=f"ingest-{prefix}", topic_prefix=prefix)
    from unittest import mock

    try:
        with mock.patch("devices.ingest.broker_config", return_value=config):
            worker.start()
        assert wait_for(lambda: worker.connected, 10)
        time.sleep(0.5)
        publisher = Publisher(config, prefix)
        publisher.readings(100)
        publisher.close()
        assert wait_for(lambda: Reading.objects.count() == 100, 20)
        broker.stop()
        assert wait_for(lambda: not worker.connected, 10)
        broker.start()
        assert wait_for(lambda: worker.connected, 40)  # reconnects with backoff by itself
        time.sleep(0.5)
        publisher = Publisher(config, prefix)
        publisher.sent = 100
        publisher.readings(100)
        publisher.close()
        assert wait_for(lambda: Reading.objects.count() == 200, 20)  # subscribed again
    finally:
        worker.stop()
        broker.destroy()
