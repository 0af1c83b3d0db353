"""Faults: database outage while messages arrive, broker connection dropped, garbage input."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from devices.health import check_ingest
from devices.ingest import IngestWorker, Writer
from devices.models import IngestState, Sensor
from devices.mqtt.client import BrokerConfig
from repository.models import StoreRoom
from storage_env.models import Reading
from tests.gates import require_mqtt, require_postgresql

from .test_ingest_real import Publisher, wait_for


def refused_so_far() -> int:
    state = IngestState.objects.filter(client_id="fault-db").first()
    return state.refused if state else 0


def fake_message(topic: str, body: dict, mid: int) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, payload=json.dumps(body).encode(), mid=mid, qos=1)


@pytest.mark.django_db(transaction=True)
def test_database_outage_buffers_bounded_counts_refusals_and_recovers(monkeypatch):
    room = StoreRoom.objects.create(code="F1", name="故障库房")
    Sensor.objects.create(sensor_id="F-1", room=room)
    worker = IngestWorker(client_id="fault-db", topic_prefix="f", buffer_limit=50)
    acks: list[tuple[int, int]] = []
    worker.client = SimpleNamespace(ack=lambda mid, qos: acks.append((mid, qos)))
    outage = {"down": True}
    real_write = Writer.write

    def write(self, batch):
        if outage["down"]:
            raise OperationalError("server closed the connection unexpectedly")
        return real_write(self, batch)

    monkeypatch.setattr(Writer, "write", write)
    thread = threading.Thread(target=worker.run_writer, daemon=True)
    thread.start()
    start = timezone.now() - dt.timedelta(minutes=30)
    try:
        for i in range(80):
            ts = (start + dt.timedelta(seconds=i)).isoformat()
            worker.on_message(
                None, None, fake_message("f/sensors/F-1/telemetry", {"ts": ts, "humidity": 50}, i)
            )
        assert wait_for(lambda: not worker.db_ok, 5)
        held = worker.pending_count()
        assert held == 50  # bounded
        # what it could not hold is counted (in memory, or already written by a heartbeat;
        # the writer's heartbeat may be between the two, so look until it has settled)
        assert wait_for(lambda: worker.writer.counters.refused + refused_so_far() == 30, 5)
        refused = 30
        assert acks == []  # nothing acknowledged: the broker will deliver it again
        outage["down"] = False
        assert wait_for(lambda: Reading.objects.count() == held, 10)
        assert wait_for(lambda: len(acks) == held, 5) and worker.db_ok
        worker.heartbeat()
        state = IngestState.objects.get(client_id="fault-db")
        assert state.refused == refused and state.stored == held and state.last_error == ""
        assert check_ingest()["ok"]
    finally:
        worker.stopping.set()
        thread.join(5)


@pytest.mark.django_db
def test_health_check_reports_stale_or_failing_worker():
    assert not check_ingest()["ok"]
    IngestState.objects.create(client_id="w", heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert not check_ingest()["ok"]
    IngestState.objects.filter(client_id="w").update(heartbeat_at=timezone.now())
    assert check_ingest()["ok"]
    IngestState.objects.filter(client_id="w").update(last_error="OperationalError: down")
    assert not check_ingest()["ok"]


class Proxy:
    """A TCP proxy in front of the broker whose connections the test can cut."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets = []

    def close(self) -> None:
        self.running = False
        self.cut()
        self.server.close()


@pytest.mark.django_db(transaction=True)
def test_broker_connection_lost_worker_reconnects_and_resubscribes():
    require_postgresql()
    url = require_mqtt()
    config = BrokerConfig.from_url(url)
    prefix = f"lantai_env_reconnect_{uuid.uuid4().hex[:6]}"
    room = StoreRoom.objects.create(code="F2", name="重连库房")
    Sensor.objects.create(sensor_id="R-1", room=room)
    proxy = Proxy((config.host, config.port))
    worker = IngestWorker(client_id=f"ingest-{prefix}", topic_prefix=prefix)
    publisher = Publisher(url, prefix)
    start = timezone.now() - dt.timedelta(minutes=10)
    try:
        with mock.patch(
            "devices.ingest.broker_config",
            return_value=BrokerConfig(host="127.0.0.1", port=proxy.port),
        ):
            worker.start()
        assert wait_for(lambda: worker.connected, 10)
        time.sleep(0.3)
        publisher.telemetry("R-1", {"ts": start.isoformat(), "humidity": 50})
        publisher.flush()
        assert wait_for(lambda: Reading.objects.count() == 1, 10)
        proxy.cut()  # the broker "restarts" as far as the worker can tell
        assert wait_for(lambda: not worker.connected, 10)
        for i in range(1, 20):  # published while the worker is away: kept for its session
            publisher.telemetry(
                "R-1", {"ts": (start + dt.timedelta(seconds=i)).isoformat(), "humidity": 50}
            )
        publisher.flush()
        assert wait_for(lambda: worker.connected, 20)  # reconnects by itself (backoff)
        assert wait_for(lambda: Reading.objects.count() == 20, 20)
        publisher.telemetry(
            "R-1", {"ts": (start + dt.timedelta(seconds=30)).isoformat(), "humidity": 50}
        )
        publisher.flush()
        assert wait_for(lambda: Reading.objects.count() == 21, 10)  # subscribed again
    finally:
        publisher.close()
        worker.stop()
        proxy.close()


class SimulatedClock:
    """Stands in for ``time`` inside the ingest module: ``sleep`` advances the clock and lets
    the test deliver messages "while" the writer waits, so batching is checked without
    depending on how busy the machine is (a wall-clock bound here failed once under CI load)."""

    def __init__(self, on_sleep=lambda now: None):
        self.now = 0.0
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.on_sleep(self.now)


def batching_worker(monkeypatch, clock: SimulatedClock, **options) -> IngestWorker:
    monkeypatch.setattr("devices.ingest.time", clock)
    return IngestWorker(client_id="w", topic_prefix="b", **options)


def deliver(worker: IngestWorker, count: int, first_mid: int = 1) -> None:
    ts = timezone.now().isoformat()
    for mid in range(first_mid, first_mid + count):
        worker.on_message(None, None, fake_message("b/sensors/X/telemetry", {"ts": ts}, mid))


def test_writer_takes_a_lone_message_at_once(monkeypatch):
    clock = SimulatedClock()
    worker = batching_worker(monkeypatch, clock, linger=0.05)
    deliver(worker, 1)
    worker._take()
    assert len(worker.pending) == 1
    assert clock.now <= 0.002  # one short look for company, not the whole linger


def test_writer_gathers_a_stream_for_at_most_linger(monkeypatch):
    worker = None
    arrived = 1

    def more(now):  # 20 more messages arrive during every pause of the writer
        nonlocal arrived
        deliver(worker, 20, first_mid=arrived + 1)
        arrived += 20

    clock = SimulatedClock(more)
    worker = batching_worker(monkeypatch, clock, linger=0.05)
    deliver(worker, 1)
    worker._take()
    assert 0.05 <= clock.now < 0.05 + 0.0051  # stopped at the deadline, not later
    assert len(worker.pending) == arrived > 100  # gathered, not one write per message


def test_writer_stops_gathering_at_batch_size(monkeypatch):
    worker = None

    def more(now):
        deliver(worker, 40, first_mid=1000 + int(now * 10_000))

    clock = SimulatedClock(more)
    worker = batching_worker(monkeypatch, clock, linger=0.05, batch_size=100)
    deliver(worker, 1)
    worker._take()
    assert len(worker.pending) == 100 and clock.now < 0.05  # full batch: no more waiting
    assert worker.linger == 0.05
    assert IngestWorker(client_id="w", topic_prefix="b", linger=5).linger == 0.2  # ≤ flush


def test_writer_thread_writes_everything_in_batches_and_acks_each_once(monkeypatch):
    """The real writer thread, real clock: no timing bounds, only what must hold."""
    worker = IngestWorker(client_id="w", topic_prefix="b", linger=0.05)
    worker.heartbeat = lambda: None
    acked: list[int] = []
    worker.client = SimpleNamespace(ack_many=lambda mids: acked.extend(mids))
    batches: list[int] = []
    monkeypatch.setattr(Writer, "write", lambda self, batch: batches.append(len(batch)))
    thread = threading.Thread(target=worker.run_writer, daemon=True)
    thread.start()
    try:
        deliver(worker, 1)
        assert wait_for(lambda: batches, 5)
        assert batches == [1] and acked == [1]  # a lone message is not held back
        deliver(worker, 3000, first_mid=2)
        assert wait_for(lambda: sum(batches) == 3001, 20)
        assert len(batches) < 100  # gathered, not one commit per message
        assert sorted(acked) == list(range(1, 3002))  # each acknowledged once, after its write
    finally:
        worker.stopping.set()
        thread.join(5)
