"""Several ingest workers in one MQTT 5 shared subscription group, against real Mosquitto and
PostgreSQL: the stream is split between them, nothing is stored twice, and when one stops (or is
killed) the others store everything published from then on."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from devices.ingest import IngestWorker, default_client_id
from devices.models import IngestState, Sensor
from devices.mqtt import topics
from devices.mqtt.client import BrokerConfig, connect_options, make_client
from repository.models import StoreRoom
from storage_env.models import Reading
from tests.gates import require_mqtt, require_postgresql

from .test_ingest_real import ROOT, Publisher, wait_for

SENSORS = [f"SH-{i}" for i in range(4)]
real_services = [pytest.mark.django_db(transaction=True), pytest.mark.service("mqtt")]


def test_shared_subscriptions_and_client_ids(monkeypatch):
    assert [t for t, _ in topics.subscriptions(topic_prefix="p", group="ingest")] == [
        "$share/ingest/p/sensors/+/telemetry",
        "$share/ingest/p/sensors/+/alarm",
        "$share/ingest/p/sensors/+/status",
    ]
    for bad in ("a/b", "a+", "#", "x" * 65, "a b"):
        with pytest.raises(ImproperlyConfigured):
            topics.subscriptions(topic_prefix="p", group=bad)
    assert topics.parse_topic("p/sensors/S-1/alarm", topic_prefix="p").sensor_id == "S-1"
    assert default_client_id("p") == "lantai-ingest-p"  # one worker: as before
    monkeypatch.setattr(socket, "gethostname", lambda: "archive-1")
    assert default_client_id("p", "g") == f"lantai-ingest-p-archive-1-{os.getpid()}"
    assert default_client_id("p", "g", "2") == "lantai-ingest-p-archive-1-2"
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 100)
    long = default_client_id("p", "g", "17")
    assert len(long) == 64 and long.endswith("h-17")


@pytest.fixture
def services():
    require_postgresql()
    return require_mqtt()


@pytest.fixture
def prefix(services):
    return f"h1sh_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def group():
    return f"h1g{uuid.uuid4().hex[:6]}"


@pytest.fixture
def sensors(services):
    room = StoreRoom.objects.create(code=f"S{uuid.uuid4().hex[:6]}", name="共享库房")
    return [Sensor.objects.create(sensor_id=sensor_id, room=room) for sensor_id in SENSORS]


def publish(
    publisher: Publisher, start: dt.datetime, first: int, count: int, pause: float = 0.0
) -> set[tuple]:
    """``count`` readings, one second apart from ``start + first`` s; their (sensor, ts) keys."""
    keys = set()
    for i in range(first, first + count):
        sensor_id = SENSORS[i % len(SENSORS)]
        ts = start + dt.timedelta(seconds=i)
        publisher.telemetry(sensor_id, {"ts": ts.isoformat(), "humidity": 50})
        keys.add((sensor_id, ts))
        if pause:
            time.sleep(pause)
    publisher.flush()
    return keys


def stored_keys() -> set[tuple]:
    return set(Reading.objects.values_list("sensor__sensor_id", "ts"))


class Member:
    """An in-process IngestWorker in ``group``, noting which messages it committed."""

    def __init__(self, prefix: str, group: str, name: str) -> None:
        self.worker = IngestWorker(client_id=f"{name}-{prefix}", topic_prefix=prefix, group=group)
        self.committed: list[tuple] = []
        self.lock = threading.Lock()
        real_write = self.worker.writer.write

        def write(batch):
            real_write(batch)
            with self.lock:
                self.committed.extend(
                    (p.sensor_id, reading.ts) for p in batch for reading in p.readings
                )

        self.worker.writer.write = write
        self.worker.start()
        assert self.worker.subscribed.wait(15)

    def keys(self) -> set[tuple]:
        with self.lock:
            return set(self.committed)

    def count(self) -> int:
        with self.lock:
            return len(self.committed)


def session_present(url: str, client_id: str) -> bool:
    config = BrokerConfig.from_url(url)
    present = threading.Event()
    client = make_client(client_id, clean_start=False, config=config, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, flags, rc, p=None: flags.session_present and present.set()
    client.connect(config.host, config.port, **connect_options(client, clean_start=False))
    client.loop_start()
    found = present.wait(3)
    client.disconnect()
    client.loop_stop()
    cleaner = make_client(client_id, clean_start=True, config=config, protocol=mqtt.MQTTv5)
    cleaner.connect(config.host, config.port, **connect_options(cleaner, clean_start=True))
    cleaner.disconnect()
    return found


@real_services[0]
@real_services[1]
def test_two_workers_split_the_stream_store_each_once_and_one_takes_over(
    services, prefix, group, sensors
):
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=3)
    a = Member(prefix, group, "a")
    b = Member(prefix, group, "b")
    publisher = Publisher(services, prefix)
    try:
        first = publish(publisher, start, 0, 400)
        assert wait_for(lambda: stored_keys() == first, 60), len(stored_keys())
        assert wait_for(lambda: a.count() + b.count() == 400, 10)
        # each message went to exactly one member, and both had a share
        assert a.keys() | b.keys() == first and not a.keys() & b.keys()
        assert a.count() > 50 and b.count() > 50, (a.count(), b.count())
        # b stops while the stream flows: it leaves the group, then commits and acknowledges
        # whatever was routed to it before the broker's UNSUBACK; a takes the rest
        second: set[tuple] = set()
        flowing = threading.Thread(
            target=lambda: second.update(publish(publisher, start, 400, 400, pause=0.002))
        )
        flowing.start()
        assert wait_for(lambda: len(stored_keys()) >= 450, 30)
        b.worker.stop()
        taken_by_b = b.count()
        flowing.join(30)
        assert wait_for(lambda: stored_keys() == first | second, 30), len(stored_keys())
        third = publish(publisher, start, 800, 200)
        assert wait_for(lambda: stored_keys() == first | second | third, 30)
        assert b.count() == taken_by_b and a.keys() >= third
        assert a.keys() | b.keys() == first | second | third and not a.keys() & b.keys()
        assert Reading.objects.count() == 1000
        assert a.worker.writer.counters.duplicates == b.worker.writer.counters.duplicates == 0
        assert a.worker.problem() == ""
    finally:
        publisher.close()
        a.worker.stop()
        b.worker.stop()
    # nothing of theirs stays with the broker: a shared-group session ends with its connection
    assert not session_present(services, a.worker.client_id)
    assert not session_present(services, b.worker.client_id)
    for worker in (a.worker, b.worker):
        assert IngestState.objects.get(client_id=worker.client_id).duplicates == 0


def ingest_process(prefix: str, group: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        MQTT_TOPIC_PREFIX=prefix,
        MQTT_SHARED_GROUP=group,
        DEBUG="true",
    )
    env.pop("CI", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "mqtt_ingest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def probe(publisher: Publisher, start: dt.datetime, n: int) -> bool:
    """One reading before ``start`` (apart from the stream): stored within a few seconds?"""
    ts = start - dt.timedelta(hours=1, seconds=n)
    publisher.telemetry(SENSORS[0], {"ts": ts.isoformat(), "humidity": 40})
    publisher.flush()
    return wait_for(lambda: Reading.objects.filter(ts=ts).exists(), 3)


@real_services[0]
@real_services[1]
def test_killed_member_strands_nothing(services, prefix, group, sensors):
    """Two ``mqtt_ingest`` processes (default client ids: host and pid); SIGKILL one: whatever
    is published afterwards is stored by the other. With a persistent session the dead member
    would stay in the group, every second message queued where nobody reads it."""
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=4)
    procs = [ingest_process(prefix, group) for _ in range(2)]
    publisher = Publisher(services, prefix)
    states = IngestState.objects.filter(client_id__startswith=f"lantai-ingest-{prefix}-")
    try:
        if not wait_for(lambda: states.count() == 2, 60):
            for proc in procs:
                proc.kill()
            pytest.fail("\n".join(proc.communicate()[0][-2000:] for proc in procs))
        ids = {state.client_id for state in states}
        assert {i.rsplit("-", 1)[1] for i in ids} == {str(proc.pid) for proc in procs}
        n = 0
        while not probe(publisher, start, n):  # until a member has subscribed
            n += 1
            assert n < 20
        first: set[tuple] = set()
        while not all(state.stored for state in states.all()):  # both have had a share
            first.update(publish(publisher, start, len(first), 100))
            assert wait_for(lambda: stored_keys() >= first, 60)
            wait_for(lambda: all(state.stored for state in states.all()), 6)  # heartbeat: 5 s
            assert len(first) < 1000
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(10)
        # the broker drops a clean-session member when its socket closes: two probes in a row
        # stored show a group of one (round robin would hand one of them to a lingering member)
        in_a_row = 0
        while in_a_row < 2:
            n += 1
            in_a_row = in_a_row + 1 if probe(publisher, start, n) else 0
            assert n < 40
        Reading.objects.filter(ts__lt=start).delete()  # the probes
        second = publish(publisher, start, len(first), 300)
        assert wait_for(lambda: stored_keys() == first | second, 60), len(stored_keys())
        assert Reading.objects.count() == len(first) + 300
        procs[0].send_signal(signal.SIGTERM)
        out, _ = procs[0].communicate(timeout=30)
        assert procs[0].returncode == 0 and "stopped cleanly" in out, out
        assert f"shared group {group}" in out
    finally:
        publisher.close()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
