"""The ingest worker on each MQTT client path against real Mosquitto and PostgreSQL: the same
messages (with duplicates and a cut connection mid-stream) are stored exactly once, and every
one is acknowledged (the broker has nothing left to redeliver to the session)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone

from devices.ingest import IngestWorker
from devices.models import IngestState, Sensor
from devices.mqtt.client import (
    BrokerConfig,
    IngestClient,
    connect_options,
    make_client,
    protocol_version,
)
from repository.models import StoreRoom
from storage_env.models import Reading
from tests.devices.test_ingest_real import Publisher, readings, wait_for
from tests.gates import require_mqtt, require_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("mqtt")]

MESSAGES = 1500
PATHS = {"stock_paho": (True, mqtt.Client), "subclass": (False, IngestClient)}


@pytest.fixture
def services():
    require_postgresql()
    return require_mqtt()


def redelivered(url: str, client_id: str) -> int:
    """Reconnect to the worker's persistent session: how many messages the broker still had
    for it (unacknowledged). Ends the session afterwards."""
    config = BrokerConfig.from_url(url)
    protocol = protocol_version()
    got = []
    client = make_client(client_id, clean_start=False, config=config, protocol=protocol)
    client.on_message = lambda c, u, message: got.append(message.mid)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(
        config.host, config.port, **connect_options(client, clean_start=False, session_expiry=1)
    )
    client.loop_start()
    try:
        assert connected.wait(10)
        time.sleep(1.0)  # a session's queued messages come right after CONNACK
    finally:
        client.disconnect()
        client.loop_stop()
    cleaner = make_client(client_id, clean_start=True, config=config, protocol=protocol)
    cleaner.connect(
        config.host, config.port, **connect_options(cleaner, clean_start=True, session_expiry=0)
    )
    cleaner.loop_start()
    time.sleep(0.3)
    cleaner.disconnect()
    cleaner.loop_stop()
    return len(got)


def run_path(url: str, stock: bool, stream: list[tuple], monkeypatch) -> set[tuple]:
    monkeypatch.setenv("MQTT_STOCK_CLIENT", "1" if stock else "0")
    prefix = f"h15_paths_{uuid.uuid4().hex[:8]}"
    client_id = f"ingest-{prefix}"
    Reading.objects.all().delete()
    worker = IngestWorker(client_id=client_id, topic_prefix=prefix)
    worker.start()
    publisher = Publisher(url, prefix)
    try:
        assert wait_for(lambda: worker.subscribed.is_set(), 20)
        half = MESSAGES // 2
        for sensor_id, body in stream[:half]:
            publisher.telemetry(sensor_id, body)
        publisher.flush()
        assert wait_for(lambda: Reading.objects.count() >= half // 2, 30, 0.01)
        # cut the connection: paho reconnects and the session's unacknowledged messages come
        # again (published after the reconnect: Mosquitto keeps at most 1000 for a session
        # while it is offline)
        worker.subscribed.clear()
        with contextlib.suppress(OSError):
            worker.client.socket().shutdown(socket.SHUT_RDWR)
        assert wait_for(lambda: not worker.connected, 10)
        assert wait_for(lambda: worker.connected, 30)
        for sensor_id, body in stream[half:] + stream[:100]:  # the last 100: sent twice
            publisher.telemetry(sensor_id, body)
        publisher.flush()
        assert wait_for(lambda: Reading.objects.count() >= MESSAGES, 60), Reading.objects.count()
        assert wait_for(lambda: worker.pending_count() == 0, 30)
        time.sleep(0.5)  # a duplicate row would show up now
    finally:
        publisher.close()
        worker.stop()
    assert type(worker.client) is PATHS["stock_paho" if stock else "subclass"][1]
    assert Reading.objects.count() == MESSAGES
    assert redelivered(url, client_id) == 0
    IngestState.objects.filter(client_id=client_id).delete()
    return set(Reading.objects.values_list("sensor__sensor_id", "ts", "temperature"))


def test_both_client_paths_store_the_same_messages_exactly_once(services, monkeypatch):
    room = StoreRoom.objects.create(code=f"R{uuid.uuid4().hex[:6]}", name="测试库房")
    ids = [Sensor.objects.create(sensor_id=f"P-{i}", room=room).sensor_id for i in range(4)]
    stream = list(readings(MESSAGES, timezone.now() - dt.timedelta(hours=3), ids))
    stored = {
        name: run_path(services, stock, stream, monkeypatch) for name, (stock, _) in PATHS.items()
    }
    assert len(stored["stock_paho"]) == MESSAGES
    assert stored["stock_paho"] == stored["subclass"]
