"""Bad text at the edge (NUL, lone surrogates, control characters, over-long strings) and the
writer's safety net for a batch the database refuses for its data."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    connection,
)
from django.utils import timezone

from devices.choices import DeadLetterReason
from devices.ingest import IngestWorker, Writer, dead_letter, is_outage, parse_message
from devices.models import DeadLetter
from devices.mqtt import payloads, topics
from storage_env.models import Alarm, Reading
from tests.gates import require_postgresql

from .test_ingest_real import ROOT, wait_for

PREFIX = "t"


def msg(sensor_id, kind, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_message(f"{PREFIX}/sensors/{sensor_id}/{kind}", raw, topic_prefix=PREFIX)


def alarm_raw(message: str) -> bytes:
    # json.dumps escapes a lone surrogate as \ud800 and NUL as \u0000: what a device would send
    body = {"ts": timezone.now().isoformat(), "code": "water_leak", "message": message}
    return json.dumps(body).encode()


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["\ud800", "leak \udfff", "a\x00b"])
def test_alarm_with_bad_text_is_dead_lettered_not_written(sensor, message):
    writer = Writer()
    writer.write([msg("TH-01", "alarm", alarm_raw(message))])
    dead = DeadLetter.objects.get()
    assert dead.reason == DeadLetterReason.BAD_TEXT
    assert "message" in dead.detail
    assert Alarm.objects.count() == 0


def fake(topic: str, raw: bytes, mid: int) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, payload=raw, mid=mid, qos=1)


def run_worker(worker: IngestWorker) -> tuple[threading.Thread, list[int]]:
    acked: list[int] = []
    worker.client = SimpleNamespace(ack_many=lambda mids: acked.extend(mids))
    thread = threading.Thread(target=worker.run_writer, daemon=True)
    thread.start()
    return thread, acked


@pytest.mark.django_db(transaction=True)
def test_poison_alarm_does_not_stop_the_stream(sensor):
    """A lone surrogate killed the writer thread; a NUL made PostgreSQL refuse every batch."""
    worker = IngestWorker(client_id="poison", topic_prefix=PREFIX)
    thread, acked = run_worker(worker)
    start = timezone.now() - dt.timedelta(minutes=10)
    try:
        mid = 0
        for i in range(20):
            mid += 1
            ts = (start + dt.timedelta(seconds=i)).isoformat()
            raw = json.dumps({"ts": ts, "temperature": 20.0}).encode()
            worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/telemetry", raw, mid))
            if i in (5, 12):
                mid += 1
                bad = alarm_raw("\ud800" if i == 5 else "\x00")
                worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/alarm", bad, mid))
        assert wait_for(lambda: len(acked) == mid, 20), (acked, worker.last_error)
        assert thread.is_alive()
        assert Reading.objects.count() == 20
        assert DeadLetter.objects.filter(reason=DeadLetterReason.BAD_TEXT).count() == 2
        assert sorted(acked) == list(range(1, mid + 1))
    finally:
        worker.stopping.set()
        thread.join(10)


NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def reading(**extra) -> dict:
    return {"ts": NOW.isoformat(), "temperature": 20.0, **extra}


def bad_text_detail(call) -> str:
    with pytest.raises(payloads.PayloadError) as info:
        readings, errors = call()
        if errors:
            raise errors[0]
    assert info.value.reason == DeadLetterReason.BAD_TEXT, info.value
    return info.value.detail


def telemetry(raw: bytes):
    return payloads.parse_telemetry(raw, sensor_id="TH-1", now=NOW)


def alarm(body: dict):
    raw = json.dumps({"ts": NOW.isoformat(), "code": "leak", **body}).encode()
    return payloads.parse_alarm(raw, sensor_id="TH-1", now=NOW), []


@pytest.mark.parametrize(
    "body, field",
    [
        (reading(note="\x00"), "note"),
        (reading(note="\ud800"), "note"),
        (reading(note="\udc00 low"), "note"),
        (reading(note="bell\x07"), "note"),
        (reading(note="del\x7f"), "note"),
        (reading(note="c1\x85"), "note"),
        (reading(note="\ufeffbom"), "note"),
        (reading(note="line\nbreak"), "note"),
        (reading(note="x" * 10_000), "note"),
        (reading(meta={"deep": [1, {"name": "\x00"}]}), "meta.deep[1].name"),
        ({**reading(), "bad\x00key": 1}, "key in payload"),
        ([reading(), reading(note="\ud800")], "[1] note"),
        (reading(ts="2026-11-21T08:00:00\x00+00:00"), "ts"),
    ],
)
def test_every_string_of_a_telemetry_payload_is_checked(body, field):
    raw = json.dumps(body).encode()
    detail = bad_text_detail(lambda: telemetry(raw))
    assert field in detail


def test_raw_c1_and_bom_characters_need_no_escape_to_be_caught():
    raw = '{"ts": "2026-11-21T08:00:00+00:00", "temperature": 20, "n": "\x85\ufeff"}'.encode()
    assert "n:" in bad_text_detail(lambda: telemetry(raw))


@pytest.mark.parametrize(
    "body, field",
    [
        ({"message": "\ud800"}, "message"),
        ({"message": "a\x00b"}, "message"),
        ({"message": "carriage\rreturn"}, "message"),
        ({"message": "m" * (payloads.MESSAGE_MAX + 1)}, "message"),
        ({"code": "leak\n"}, "code"),
        ({"code": "\udfff"}, "code"),
        ({"code": "c" * (payloads.CODE_MAX + 1)}, "code"),
        ({"severity": "major\x00"}, "severity"),
        ({"extra": {"x": "\x1b[31m"}}, "extra.x"),
    ],
)
def test_every_text_field_of_an_alarm_is_checked(body, field):
    assert bad_text_detail(lambda: alarm(body)).startswith(field)


def test_alarm_message_may_hold_lines_tabs_and_any_real_character():
    message = "漏水\n第二行\tend 😀"
    parsed, _ = alarm({"message": message})
    assert parsed.message == message
    assert alarm({"message": "m" * payloads.MESSAGE_MAX})[0].message == "m" * 300


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"online\x00", DeadLetterReason.BAD_TEXT),
        (b"\x1b[0monline", DeadLetterReason.BAD_TEXT),
        (b"on\xffline", DeadLetterReason.BAD_ENCODING),
        (b"\xed\xa0\x80", DeadLetterReason.BAD_ENCODING),  # a surrogate encoded raw
        (b"sleepy", DeadLetterReason.BAD_STATUS),
    ],
)
def test_status_text_is_checked(raw, reason):
    with pytest.raises(payloads.PayloadError) as info:
        payloads.parse_status(raw)
    assert info.value.reason == reason
    assert payloads.parse_status(b' "Online"\n') == "online"


@pytest.mark.parametrize(
    "sensor_id",
    ["TH-1\n", "TH\x00", "TH\x7f1", "TH-\ud800", "\u00e9t\u00e9", "T" * 65, "", "TH 1", "+", "#"],
)
def test_topic_sensor_id_rejects_control_characters_surrogates_and_long_ids(sensor_id):
    assert topics.parse_topic(f"p/sensors/{sensor_id}/telemetry", topic_prefix="p") is None
    parsed = parse_message(f"p/sensors/{sensor_id}/alarm", b"{}", topic_prefix="p")
    assert parsed.errors[0].reason == DeadLetterReason.BAD_TOPIC
    assert topics.parse_topic(f"p/sensors/{'T' * 64}/status", topic_prefix="p") is not None


@pytest.mark.django_db
def test_dead_letter_of_garbage_is_storable():
    parsed = parse_message(
        "t/sensors/\x00\ud800/telemetry\x00", b"\xff\x00\xed\xa0\x80", topic_prefix="t"
    )
    parsed.sensor_id = "S\x00\udfff"
    row = dead_letter(parsed, DeadLetterReason.DB_REFUSED, "database refused: \x00 \ud800 " * 50)
    row.save()
    row.refresh_from_db()
    assert "\\x00" in row.topic and "\\ud800" in row.topic
    assert row.sensor_id == "S\\x00\\udfff"
    assert bytes(row.payload) == b"\xff\x00\xed\xa0\x80" and len(row.detail) <= 500


def test_outage_or_refusal():
    class Cause(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    def with_state(exc, sqlstate):
        exc.__cause__ = Cause(sqlstate)
        return exc

    assert is_outage(OperationalError("server closed the connection unexpectedly"))
    assert is_outage(InterfaceError("connection already closed"))
    assert is_outage(with_state(ProgrammingError("relation does not exist"), "42P01"))
    assert is_outage(with_state(DatabaseError("serialization failure"), "40001"))
    assert not is_outage(with_state(DataError("invalid byte sequence"), "22021"))
    assert not is_outage(with_state(IntegrityError("violates foreign key"), "23503"))
    assert not is_outage(ProgrammingError("cannot adapt type 'dict'"))  # client side
    assert not is_outage(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    assert not is_outage(ValueError("bad value"))


def without_edge_checks(monkeypatch) -> None:
    """Let bad text past the edge, to reach the writer's own safety net."""
    never = re.compile(r"(?!)")
    monkeypatch.setattr(payloads, "_UNSAFE_TEXT", never)
    monkeypatch.setattr(payloads, "_UNSAFE_LINE", never)


def flush_worker(**options) -> tuple[IngestWorker, list[int]]:
    worker = IngestWorker(client_id="net", topic_prefix=PREFIX, **options)
    acked: list[int] = []
    worker.client = SimpleNamespace(ack_many=lambda mids: acked.extend(mids))
    return worker, acked


@pytest.mark.django_db(transaction=True)
def test_a_batch_refused_for_its_data_is_split_and_only_the_bad_messages_dead_lettered(
    sensor, monkeypatch
):
    without_edge_checks(monkeypatch)
    worker, acked = flush_worker()
    start = timezone.now() - dt.timedelta(minutes=30)
    poison = ["\ud800", "\udfff"] + (["\x00"] if connection.vendor == "postgresql" else [])
    mid = 0
    for i in range(100):
        mid += 1
        raw = json.dumps(
            {"ts": (start + dt.timedelta(seconds=i)).isoformat(), "humidity": 50}
        ).encode()
        worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/telemetry", raw, mid))
        if i % 40 == 7 and poison:
            mid += 1
            raw = alarm_raw(poison.pop())
            worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/alarm", raw, mid))
    worker.pending = list(worker.queue)
    worker.queue.clear()
    assert worker.flush()
    assert worker.pending == [] and worker.db_ok
    assert Reading.objects.count() == 100
    refused = DeadLetter.objects.filter(reason=DeadLetterReason.DB_REFUSED)
    assert refused.count() == mid - 100
    assert all(row.detail.startswith("database refused: ") for row in refused)
    assert all(row.topic.endswith("/alarm") and bytes(row.payload) for row in refused)
    assert sorted(acked) == list(range(1, mid + 1))  # each acknowledged once
    assert worker.writer.counters.dead_lettered == mid - 100
    sensor.refresh_from_db()  # seen, although the failed attempt had "touched" it first
    assert sensor.last_seen is not None


@pytest.mark.django_db(transaction=True)
def test_an_outage_while_isolating_keeps_what_was_not_committed(sensor, monkeypatch):
    """Committed halves are acknowledged and dropped; the rest waits for the retry."""
    without_edge_checks(monkeypatch)
    worker, acked = flush_worker()
    start = timezone.now() - dt.timedelta(minutes=30)
    for mid in range(1, 9):
        raw = json.dumps({"ts": (start + dt.timedelta(seconds=mid)).isoformat(), "humidity": 50})
        worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/telemetry", raw.encode(), mid))
    worker.on_message(None, None, fake(f"{PREFIX}/sensors/TH-01/alarm", alarm_raw("\ud800"), 9))
    worker.pending = list(worker.queue)
    worker.queue.clear()
    real_write = Writer.write
    calls = []

    def write(self, batch):
        calls.append(len(batch))
        if len(calls) == 3:  # the whole batch, its first half, then the database goes away
            raise OperationalError("server closed the connection unexpectedly")
        return real_write(self, batch)

    monkeypatch.setattr(Writer, "write", write)
    assert not worker.flush()
    assert calls == [9, 4, 5] and not worker.db_ok
    assert sorted(acked) == [1, 2, 3, 4] and len(worker.pending) == 5
    assert Reading.objects.count() == 4
    monkeypatch.setattr(Writer, "write", real_write)
    assert worker.flush()
    assert sorted(acked) == list(range(1, 10)) and worker.pending == []
    assert Reading.objects.count() == 8
    assert DeadLetter.objects.get().reason == DeadLetterReason.DB_REFUSED


@pytest.mark.django_db(transaction=True)
def test_a_writer_thread_that_dies_is_reported(monkeypatch):
    worker = IngestWorker(client_id="dies", topic_prefix=PREFIX)
    worker.client = SimpleNamespace(ack_many=lambda mids: None)

    def boom():
        raise RuntimeError("boom")

    monkeypatch.setattr(worker, "heartbeat", boom)
    worker._thread = threading.Thread(target=worker.run_writer, daemon=True)
    worker._thread.start()
    worker._thread.join(10)
    assert worker.problem() == "writer thread died: RuntimeError: boom"
    worker.stopping.set()
    assert worker.problem() == "writer thread died: RuntimeError: boom"  # still, when stopping


DYING_WRITER = """
import sys
import threading

import django

django.setup()
from django.core.management import execute_from_command_line

from devices.ingest import IngestWorker

heartbeat = IngestWorker.heartbeat


def failing_heartbeat(self):
    if threading.current_thread().name == "ingest-writer":
        raise RuntimeError("boom in the writer")
    return heartbeat(self)


IngestWorker.heartbeat = failing_heartbeat
execute_from_command_line(["manage.py", "mqtt_ingest", "--client-id", sys.argv[1]])
"""


@pytest.mark.django_db(transaction=True)
def test_mqtt_ingest_exits_non_zero_with_the_reason_when_its_writer_dies():
    require_postgresql()
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        DEBUG="true",
    )
    proc = subprocess.run(
        [sys.executable, "-c", DYING_WRITER, "dying-writer"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout
    assert "writer thread died: RuntimeError: boom in the writer" in proc.stderr
    assert "stopped cleanly" not in proc.stdout
