"""Garbage through the real broker into a real IngestWorker on PostgreSQL: every string edge
case on the telemetry, alarm and status topics of a registered sensor, interleaved with good
readings. Every good reading is stored once, every bad message has its dead letter, the writer
lives on and everything is acknowledged (the persistent session holds nothing old)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from devices.choices import DeadLetterReason as R
from devices.choices import SensorStatus
from devices.ingest import IngestWorker, parse_message
from devices.models import DeadLetter, Sensor
from devices.mqtt.client import BrokerConfig, connect_options, make_client
from repository.models import StoreRoom
from storage_env.models import Alarm, Reading

from .test_ingest_real import Publisher, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("mqtt")]


@pytest.fixture
def prefix(services):
    return f"h1fz_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def services():
    from tests.gates import require_mqtt, require_postgresql

    require_postgresql()
    return require_mqtt()


@pytest.fixture
def room(services):
    return StoreRoom.objects.create(code=f"Z{uuid.uuid4().hex[:6]}", name="模糊测试库房")


def ts(moment: dt.datetime) -> str:
    return moment.isoformat()


def obj(**fields) -> bytes:
    return json.dumps(fields).encode()


def bad_cases(at: str) -> list[tuple[str, bytes, list[str]]]:
    """(kind, payload, dead-letter reasons); json.dumps escapes surrogates and controls."""
    good = {"ts": at, "temperature": 20.0}
    deep_ok = b"[" * 400 + b"]" * 400
    return [
        # text: escaped NUL, lone surrogates, controls, BOM, over-long, bad keys
        ("telemetry", obj(**good, note="\x00"), [R.BAD_TEXT]),
        ("telemetry", obj(**good, note="\ud800"), [R.BAD_TEXT]),
        ("telemetry", obj(**good, note="\udfff"), [R.BAD_TEXT]),
        ("telemetry", obj(**good, note="\x07\x1b[31m"), [R.BAD_TEXT]),
        ("telemetry", obj(**good, note="\ufeff"), [R.BAD_TEXT]),
        ("telemetry", obj(**good, note="x" * 10_240), [R.BAD_TEXT]),
        ("telemetry", json.dumps({**good, "k\x00": 1}).encode(), [R.BAD_TEXT]),
        ("telemetry", obj(ts=at + "\x00", temperature=20.0), [R.BAD_TEXT]),
        (
            "telemetry",
            f'{{"ts": "{at}", "temperature": 20, "n": "\x7f\x85"}}'.encode(),
            [R.BAD_TEXT],
        ),
        # bytes that are not UTF-8, a raw encoded surrogate, raw controls, BOM, bad escapes
        ("telemetry", b'{"ts": "' + at.encode() + b'", "n": "\xff\xfe"}', [R.BAD_ENCODING]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "n": "\xed\xa0\x80"}', [R.BAD_ENCODING]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "n": "a\x00b"}', [R.BAD_JSON]),
        ("telemetry", b"\xef\xbb\xbf" + obj(**good), [R.BAD_JSON]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "n": "\\x41"}', [R.BAD_JSON]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "n": "\\ud800', [R.BAD_JSON]),
        # size, nesting, numbers, types, emptiness
        ("telemetry", b"[" + b" " * (1024 * 1024) + b"]", [R.TOO_LARGE]),
        ("telemetry", b"[" * 5000 + b"]" * 5000, [R.BAD_JSON]),
        ("telemetry", deep_ok, [R.BAD_SHAPE]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "temperature": NaN}', [R.BAD_NUMBER]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "humidity": Infinity}', [R.BAD_NUMBER]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "humidity": -Infinity}', [R.BAD_NUMBER]),
        ("telemetry", b'{"ts": "' + at.encode() + b'", "temperature": 1e999}', [R.BAD_NUMBER]),
        ("telemetry", obj(ts=at, temperature=10**400), [R.BAD_NUMBER]),
        ("telemetry", obj(ts=10**30, temperature=20), [R.BAD_TIMESTAMP]),
        ("telemetry", obj(ts=at, temperature=20, battery=10**20), [R.OUT_OF_RANGE]),
        ("telemetry", obj(ts=at, temperature="20"), [R.BAD_NUMBER]),
        ("telemetry", obj(ts=True, temperature=20), [R.BAD_TIMESTAMP]),
        ("telemetry", obj(ts=at, temperature=[20]), [R.BAD_NUMBER]),
        ("telemetry", b'"hello"', [R.BAD_SHAPE]),
        ("telemetry", b"42", [R.BAD_SHAPE]),
        ("telemetry", b"null", [R.BAD_SHAPE]),
        ("telemetry", b"[]", [R.BAD_SHAPE]),
        ("telemetry", b"", [R.BAD_JSON]),
        # alarms: the payload that used to kill the writer, and its relatives
        ("alarm", obj(ts=at, code="leak", message="\ud800"), [R.BAD_TEXT]),
        ("alarm", obj(ts=at, code="leak", message="\x00"), [R.BAD_TEXT]),
        ("alarm", obj(ts=at, code="leak", message="m" * 301), [R.BAD_TEXT]),
        ("alarm", obj(ts=at, code="\u0007", message="bell"), [R.BAD_TEXT]),
        ("alarm", obj(ts=at, code="c" * 41), [R.BAD_TEXT]),
        ("alarm", obj(ts=at, code="leak", severity="\udfff"), [R.BAD_TEXT]),
        ("alarm", b'{"ts": "' + at.encode() + b'", "code": "\xc3\x28"}', [R.BAD_ENCODING]),
        ("alarm", b"[]", [R.BAD_SHAPE]),
        ("alarm", b"", [R.BAD_JSON]),
        # status
        ("status", b"online\x00", [R.BAD_TEXT]),
        ("status", b"\xef\xbb\xbfonline", [R.BAD_TEXT]),
        ("status", b"\xff", [R.BAD_ENCODING]),
        ("status", b"", [R.BAD_STATUS]),
        ("status", b"x" * 1000, [R.TOO_LARGE]),
    ]


def good_arrays(at: dt.datetime) -> list[tuple[bytes, int, list[str]]]:
    """Arrays of good and bad items: (payload, good items, reasons of the bad ones)."""
    a, b, c = (ts(at + dt.timedelta(milliseconds=n)) for n in (1, 2, 3))
    return [
        (
            json.dumps([{"ts": a, "humidity": 50}, {"ts": a, "humidity": 150}]).encode(),
            1,
            [R.OUT_OF_RANGE],
        ),
        (
            json.dumps([{"ts": b, "humidity": 50}, {"ts": b, "note": "\x00"}]).encode(),
            1,
            [R.BAD_TEXT],
        ),
        (
            json.dumps([1, {"ts": c, "humidity": 50}, "\ud800"]).encode(),
            1,
            [R.BAD_SHAPE, R.BAD_TEXT],
        ),
    ]


def session_is_empty(url: str, client_id: str, prefix: str) -> bool:
    """Reconnect with ``client_id``'s persistent session: a sentinel published afterwards is the
    first thing that arrives when nothing unacknowledged was left (old messages come first).
    Then end the session."""
    got: list[str] = []
    arrived = threading.Event()
    config = BrokerConfig.from_url(url)
    client = make_client(client_id, clean_start=False, config=config, protocol=mqtt.MQTTv5)

    def on_message(client, userdata, message):
        got.append(message.topic)
        if message.topic.endswith("/SENTINEL/status"):
            arrived.set()

    client.on_message = on_message
    client.connect(config.host, config.port, **connect_options(client, clean_start=False))
    client.loop_start()
    publisher = Publisher(url, prefix)
    try:
        publisher.client.publish(f"{prefix}/sensors/SENTINEL/status", b"online", qos=1)
        publisher.flush()
        assert arrived.wait(20), got
    finally:
        publisher.close()
        client.disconnect()
        client.loop_stop()
        # end the session
        cleaner = make_client(client_id, clean_start=True, config=config, protocol=mqtt.MQTTv5)
        cleaner.connect(config.host, config.port, **connect_options(cleaner, clean_start=True))
        cleaner.disconnect()
    return got == [f"{prefix}/sensors/SENTINEL/status"]


def start_worker(prefix: str) -> IngestWorker:
    worker = IngestWorker(client_id=f"fuzz-{prefix}", topic_prefix=prefix, group="")
    worker.start()
    assert worker.subscribed.wait(15)
    return worker


def test_every_edge_case_through_the_broker(services, prefix, room):
    sensor = Sensor.objects.create(sensor_id="FZ-1", room=room)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
    at = ts(start - dt.timedelta(minutes=5))
    cases = bad_cases(at)
    arrays = good_arrays(start - dt.timedelta(minutes=10))
    worker = start_worker(prefix)
    publisher = Publisher(services, prefix)
    topic = f"{prefix}/sensors/FZ-1"
    expected = Counter()
    good = 0
    try:
        for i, (kind, raw, reasons) in enumerate(cases):
            publisher.telemetry("FZ-1", {"ts": ts(start + dt.timedelta(seconds=i)), "humidity": 50})
            good += 1
            publisher.infos.append(publisher.client.publish(f"{topic}/{kind}", raw, qos=1))
            expected.update(reasons)
        for raw, items, reasons in arrays:
            publisher.telemetry("FZ-1", raw)
            good += items
            expected.update(reasons)
        for bad_id in ("é", "T" * 65, "a b", "-TH", "TH\u00a0"):
            publisher.telemetry(bad_id, {"ts": at, "humidity": 50})
            expected[R.BAD_TOPIC] += 1
        alarm = {
            "ts": at,
            "code": "water_leak",
            "message": "漏水\n二号架 😀",
            "severity": "critical",
        }
        publisher.infos.append(publisher.client.publish(f"{topic}/alarm", obj(**alarm), qos=1))
        publisher.infos.append(publisher.client.publish(f"{topic}/status", b" online\n", qos=1))
        publisher.flush()
        total = sum(expected.values())
        assert wait_for(
            lambda: (
                Reading.objects.filter(sensor=sensor).count() == good
                and DeadLetter.objects.count() == total
            ),
            30,
        ), (expected - Counter(DeadLetter.objects.values_list("reason", flat=True)), good)
        assert wait_for(lambda: Alarm.objects.filter(code="water_leak").exists(), 20)
        assert worker._thread.is_alive() and worker.problem() == ""
        assert Counter(DeadLetter.objects.values_list("reason", flat=True)) == expected
        assert worker.db_ok and worker.pending_count() == 0
        assert Alarm.objects.get(code="water_leak").message == "漏水\n二号架 😀"
        assert Sensor.objects.get(pk=sensor.pk).status == SensorStatus.ONLINE
        big = DeadLetter.objects.get(reason=R.TOO_LARGE, topic__endswith="telemetry")
        assert big.payload_size > 1024 * 1024
    finally:
        publisher.close()
        worker.stop()
    assert Reading.objects.filter(sensor=sensor).count() == good  # nothing twice
    assert session_is_empty(services, worker.client_id, prefix)


# --- hypothesis: random payloads, the parser as the oracle for the dead letters ----------------

nasty_text = st.text(
    st.characters()
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    | st.sampled_from('\x00\x07\x1b\x7f\x85\ufeff\n\t\r\\"'),
    max_size=40,
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | nasty_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            nasty_text | st.sampled_from(["ts", "code", "message"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


@st.composite
def fuzz_message(draw, at: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["telemetry", "alarm", "status"]))
    shape = draw(st.sampled_from(["reading", "value", "bytes", "raw-surrogates"]))
    if shape == "bytes":
        return kind, draw(st.binary(max_size=300))
    if shape == "reading":
        value = {
            "ts": draw(st.just(at) | json_value),
            "temperature": draw(st.floats(-50, 100) | json_value),
            "code": draw(nasty_text),
            "message": draw(nasty_text),
            **draw(st.dictionaries(nasty_text, json_value, max_size=3)),
        }
    else:
        value = draw(json_value)
    if shape == "raw-surrogates":  # no escapes: invalid UTF-8 bytes on the wire
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        return kind, text.encode("utf-8", "surrogatepass")
    return kind, json.dumps(value, allow_nan=True).encode()


def test_random_payloads_through_the_broker(services, prefix, room):
    """Each example: hypothesis payloads on FZ-2's topics between good readings of FZ-3. The
    dead letters are what the pure parser says; nothing is refused by the database."""
    fuzzed = Sensor.objects.create(sensor_id="FZ-2", room=room)
    steady = Sensor.objects.create(sensor_id="FZ-3", room=room)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    at = ts(start)
    worker = start_worker(prefix)
    publisher = Publisher(services, prefix)
    sent = {"good": 0, "dead": 0}

    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        phases=(Phase.explicit, Phase.generate),  # no shrinking: bounded time
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(fuzz_message(at), min_size=10, max_size=25))
    def run(messages):
        for kind, raw in messages:
            offset = dt.timedelta(seconds=sent["good"])
            publisher.telemetry("FZ-3", {"ts": ts(start + offset), "humidity": 40})
            sent["good"] += 1
            topic = f"{prefix}/sensors/FZ-2/{kind}"
            sent["dead"] += len(parse_message(topic, raw, topic_prefix=prefix).errors)
            publisher.infos.append(publisher.client.publish(topic, raw, qos=1))
        publisher.flush()
        assert wait_for(
            lambda: (
                Reading.objects.filter(sensor=steady).count() == sent["good"]
                and DeadLetter.objects.filter(sensor_id="FZ-2").count() == sent["dead"]
            ),
            30,
        ), (sent, DeadLetter.objects.filter(sensor_id="FZ-2").count(), worker.last_error)
        assert worker.problem() == "" and worker.db_ok

    try:
        run()
        assert not DeadLetter.objects.filter(reason=R.DB_REFUSED).exists()
        assert Reading.objects.filter(sensor=fuzzed).count() <= 1  # only ``at`` can be good
    finally:
        publisher.close()
        worker.stop()
    assert Reading.objects.filter(sensor=steady).count() == sent["good"]
    assert session_is_empty(services, worker.client_id, prefix)
