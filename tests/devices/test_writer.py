"""The ingest writer on its own: parse → write, idempotency, dead letters with reasons."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from devices.choices import DeadLetterReason, SensorStatus
from devices.ingest import Writer, parse_message
from devices.models import DeadLetter, DiscoveredSensor, RegistryVersion, Sensor
from devices.mqtt import payloads
from storage_env.choices import AlarmRule, AlarmState
from storage_env.models import Alarm, Reading

PREFIX = "t"
pytestmark = pytest.mark.django_db


def msg(sensor_id, kind, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_message(f"{PREFIX}/sensors/{sensor_id}/{kind}", raw, topic_prefix=PREFIX)


def test_readings_are_calibrated_with_dew_point_and_idempotent(sensor):
    now = timezone.now().replace(microsecond=0)
    body = [
        {"ts": now.isoformat(), "temperature": 20.5, "humidity": 49.0, "battery": 80},
        {"ts": now.timestamp() - 60, "temperature": 20.0, "humidity": 50.0},
    ]
    writer = Writer()
    writer.write([msg("TH-01", "telemetry", body)])
    writer.write([msg("TH-01", "telemetry", body)])  # redelivered
    assert Reading.objects.count() == 2
    latest = Reading.objects.get(ts=now)
    assert (latest.temperature, latest.humidity) == (20.0, 50.0)
    assert latest.dew_point == pytest.approx(9.26, abs=0.05)
    assert latest.room_id == sensor.room_id
    assert writer.counters.stored == 2 and writer.counters.duplicates == 2
    sensor.refresh_from_db()
    assert sensor.last_seen == now and sensor.battery == 80
    assert sensor.status == SensorStatus.ONLINE


def test_calibrated_humidity_stays_within_0_and_100(sensor):
    """The sensor's offsets (-0.5 °C, +1 %RH) are applied; humidity never passes 100 %RH."""
    now = timezone.now().replace(microsecond=0)
    body = {"ts": now.isoformat(), "temperature": 20.0, "humidity": 99.5}
    Writer().write([msg("TH-01", "telemetry", body)])
    reading = Reading.objects.get(ts=now)
    assert (reading.temperature, reading.humidity) == (19.5, 100.0)


def test_bad_input_goes_to_dead_letters_with_reasons(sensor):
    now = timezone.now()
    ok = {"ts": now.isoformat(), "temperature": 20, "humidity": 50}
    batch = [
        msg("TH-01", "telemetry", {**ok, "sensor_id": "TH-99"}),  # another sensor's id
        msg("NOPE-1", "telemetry", ok),  # unknown sensor
        msg("TH-01", "telemetry", b"[" + b" " * (1024 * 1024) + b"]"),  # 1 MB
        msg("TH-01", "telemetry", b'{"ts": 1795248000, "temperature": NaN}'),
        msg("TH-01", "telemetry", {**ok, "humidity": 150}),
        msg("TH-01", "telemetry", {**ok, "ts": "2099-01-01T00:00:00+00:00"}),
        parse_message("t/other/thing", b"{}", topic_prefix=PREFIX),
    ]
    writer = Writer()
    writer.write(batch)
    reasons = sorted(DeadLetter.objects.values_list("reason", flat=True))
    assert reasons == sorted(
        [
            DeadLetterReason.ID_MISMATCH,
            DeadLetterReason.UNKNOWN_SENSOR,
            DeadLetterReason.TOO_LARGE,
            DeadLetterReason.BAD_NUMBER,
            DeadLetterReason.OUT_OF_RANGE,
            DeadLetterReason.FUTURE_TIMESTAMP,
            DeadLetterReason.BAD_TOPIC,
        ]
    )
    big = DeadLetter.objects.get(reason=DeadLetterReason.TOO_LARGE)
    assert big.payload_size > 1024 * 1024 and len(big.payload) == DeadLetter.PAYLOAD_KEEP_BYTES
    assert DeadLetter.objects.get(reason=DeadLetterReason.OUT_OF_RANGE).topic.endswith("telemetry")
    assert "150" in DeadLetter.objects.get(reason=DeadLetterReason.OUT_OF_RANGE).detail
    assert Reading.objects.count() == 0
    discovered = DiscoveredSensor.objects.get()
    assert discovered.sensor_id == "NOPE-1" and discovered.message_count == 1
    writer.write([msg("NOPE-1", "telemetry", ok)])
    discovered.refresh_from_db()
    assert discovered.message_count == 2
    assert writer.counters.dead_lettered == 8


def test_disabled_sensor_is_dead_lettered(sensor):
    Sensor.objects.filter(pk=sensor.pk).update(enabled=False)
    Writer().write(
        [msg("TH-01", "telemetry", {"ts": timezone.now().isoformat(), "temperature": 20})]
    )
    assert DeadLetter.objects.get().reason == DeadLetterReason.DISABLED_SENSOR


def test_status_and_device_alarms(sensor):
    writer = Writer()
    writer.write([msg("TH-01", "status", b"offline")])
    sensor.refresh_from_db()
    assert sensor.status == SensorStatus.OFFLINE
    alarm = {"ts": timezone.now().isoformat(), "code": "water_leak", "severity": "critical"}
    writer.write([msg("TH-01", "alarm", alarm)])
    writer.write([msg("TH-01", "alarm", alarm)])  # no duplicate
    open_alarm = Alarm.objects.get()
    assert open_alarm.rule == AlarmRule.DEVICE and open_alarm.severity == "critical"
    assert open_alarm.room_id == sensor.room_id
    writer.write([msg("TH-01", "alarm", {**alarm, "active": False})])
    open_alarm.refresh_from_db()
    assert open_alarm.state == AlarmState.CLEARED


def test_parse_message_never_raises_on_garbage():
    for raw in [b"", b"\x00" * 10, b"[" * 5000, b"{" * 100000]:
        parsed = parse_message("t/sensors/x/telemetry", raw, topic_prefix=PREFIX)
        assert parsed.errors and not parsed.readings


def test_registry_changes_reach_a_running_writer_at_once(sensor):
    """The writer caches sensors; any save or delete of a sensor moves the registry version
    and the next batch sees the change (calibration, enabled, deletion)."""
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)

    def reading(i):
        ts = (start + dt.timedelta(seconds=i)).isoformat()
        return msg("TH-01", "telemetry", {"ts": ts, "temperature": 20.0})

    writer = Writer()
    writer.write([reading(0)])
    sensor.temperature_offset = 1.25
    sensor.save()
    writer.write([reading(1)])
    assert list(Reading.objects.order_by("ts").values_list("temperature", flat=True)) == [
        19.5,
        21.25,
    ]
    sensor.enabled = False
    sensor.save()
    writer.write([reading(2)])
    assert DeadLetter.objects.get().reason == DeadLetterReason.DISABLED_SENSOR
    Reading.objects.all().delete()
    sensor.delete()
    writer.write([reading(3)])  # not a foreign-key error on a stale cache entry
    assert DeadLetter.objects.filter(reason=DeadLetterReason.UNKNOWN_SENSOR).count() == 1


def test_registry_version_moves_on_save_and_delete(room):
    before = RegistryVersion.current()
    sensor = Sensor.objects.create(sensor_id="RV-1", room=room)
    assert RegistryVersion.current() == before + 1
    sensor.delete()
    assert RegistryVersion.current() == before + 2


def test_a_batch_mixes_good_readings_duplicates_and_rejects(sensor):
    now = timezone.now().replace(microsecond=0)
    good = [
        msg(
            "TH-01",
            "telemetry",
            {
                "ts": (now - dt.timedelta(seconds=i)).timestamp(),
                "temperature": 20.0 + i / 10,
                "humidity": 50.0,
                "seq": i,
            },
        )
        for i in range(300)
    ]
    writer = Writer()
    writer.write(good[:100])
    writer.write(good + [msg("TH-01", "telemetry", {"ts": now.isoformat(), "humidity": 101})])
    assert Reading.objects.count() == 300
    assert writer.counters.stored == 300 and writer.counters.duplicates == 100
    assert writer.counters.dead_lettered == 1
    row = Reading.objects.get(seq=42)
    assert row.temperature == pytest.approx(20.0 + 4.2 - 0.5)
    assert row.humidity == 51.0 and row.dew_point == pytest.approx(
        payloads.dew_point(row.temperature, 51.0)
    )
    assert row.ts == now - dt.timedelta(seconds=42)
