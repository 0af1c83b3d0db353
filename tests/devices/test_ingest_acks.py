"""Acknowledgements: only for messages of the current connection; a shared-group worker
acknowledges what it refuses (it has no session to keep it) and never reconnects to get it back;
a topic that is not UTF-8 becomes a dead letter, not a dead network thread."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone

from devices.choices import DeadLetterReason
from devices.ingest import IngestWorker
from devices.models import DeadLetter
from storage_env.models import Reading

PREFIX = "t"


class FakeClient:
    """Records acknowledgements and socket shutdowns (what the worker does to paho)."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.shutdowns = 0
        self._out_packet: list = []

    def ack_many(self, mids) -> None:
        self.acked.extend(mids)

    def socket(self):
        client = self

        class Socket:
            def shutdown(self, how) -> None:
                client.shutdowns += 1

        return Socket()


def message(mid: int, *, seconds: int = 0, sensor: str = "TH-01") -> SimpleNamespace:
    ts = timezone.now() - dt.timedelta(minutes=30) + dt.timedelta(seconds=mid + seconds)
    raw = json.dumps({"ts": ts.isoformat(), "humidity": 50}).encode()
    return SimpleNamespace(
        topic=f"{PREFIX}/sensors/{sensor}/telemetry", payload=raw, mid=mid, qos=1
    )


def worker(**options) -> tuple[IngestWorker, FakeClient]:
    w = IngestWorker(client_id="acks", topic_prefix=PREFIX, **options)
    w.client = FakeClient()
    return w, w.client


def take_all(w: IngestWorker) -> None:
    w.pending.extend(w.queue)
    w.queue.clear()


@pytest.mark.django_db
def test_messages_of_an_earlier_connection_are_stored_but_not_acknowledged(sensor):
    """After a reconnect their packet ids belong to the broker's new deliveries."""
    w, client = worker(group="")
    w.on_message(None, None, message(1))
    w.on_message(None, None, message(2))
    w.on_disconnect(None, None, None, mqtt.MQTT_ERR_CONN_LOST)
    w.on_message(None, None, message(1, seconds=100))  # a new delivery reusing id 1
    take_all(w)
    assert w.flush()
    assert Reading.objects.count() == 3
    assert client.acked == [1]  # once: the new delivery's


def test_a_single_worker_keeps_refused_messages_for_a_redelivery():
    w, client = worker(group="", buffer_limit=2)
    for mid in range(1, 6):
        w.on_message(None, None, message(mid))
    assert len(w.queue) == 2 and w.writer.counters.refused == 3
    assert client.acked == []  # the persistent session keeps them
    w.queue.clear()
    w._redeliver_refused()
    assert client.shutdowns == 1  # the reconnect that has the broker send them again


def test_a_shared_group_worker_acknowledges_what_it_refuses_and_never_reconnects_for_it():
    w, client = worker(group="g", buffer_limit=2)
    for mid in range(1, 6):
        w.on_message(None, None, message(mid))
    assert len(w.queue) == 2 and w.writer.counters.refused == 3
    assert client.acked == [3, 4, 5]  # held unacknowledged they would block the broker's window
    w.queue.clear()
    w._redeliver_refused()
    assert client.shutdowns == 0  # a reconnect would end the session with every pending message


@pytest.mark.django_db
def test_a_topic_that_is_not_utf8_is_dead_lettered_and_acknowledged():
    w, client = worker(group="")
    bad = mqtt.MQTTMessage(mid=7, topic=b"t/sensors/\xff\xfe/telemetry")
    bad.payload, bad.qos = b"{}", 1
    w.on_message(None, None, bad)
    take_all(w)
    assert w.flush()
    dead = DeadLetter.objects.get()
    assert dead.reason == DeadLetterReason.BAD_TOPIC and "\\xff" in dead.topic
    assert client.acked == [7]
