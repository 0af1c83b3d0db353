"""Edge validation of topics and payloads, with hypothesis fuzzing: nothing but PayloadError."""

import contextlib
import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.choices import DeadLetterReason
from devices.mqtt import payloads
from devices.mqtt.payloads import PayloadError, dew_point, parse_alarm, parse_status
from devices.mqtt.payloads import parse_telemetry as _parse_telemetry
from devices.mqtt.topics import parse_topic, subscriptions, topic_for

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def parse_telemetry(raw, sensor_id="TH-1", now=NOW):
    return _parse_telemetry(raw, sensor_id=sensor_id, now=now)


def reason_of(raw, **kwargs):
    with pytest.raises(PayloadError) as info:
        readings, errors = parse_telemetry(raw, **kwargs)
        if errors:
            raise errors[0]
    return info.value.reason


def test_topics_round_trip_and_reject_strangers():
    assert parse_topic(topic_for("TH-1", "telemetry", topic_prefix="p"), topic_prefix="p").kind == (
        "telemetry"
    )
    assert parse_topic("p/sensors/TH-1/telemetry", topic_prefix="p").sensor_id == "TH-1"
    for bad in [
        "p/sensors/TH-1",
        "q/sensors/a/status",
        "p/sensors/a/b/status",
        "p/sensors/+/alarm",
    ]:
        assert parse_topic(bad, topic_prefix="p") is None
    assert parse_topic("p/sensors/x/firmware", topic_prefix="p") is None
    assert [s for s, _ in subscriptions(topic_prefix="p")] == [
        "p/sensors/+/telemetry",
        "p/sensors/+/alarm",
        "p/sensors/+/status",
    ]
    assert all(qos == 1 for _, qos in subscriptions(topic_prefix="p"))


def test_good_object_array_and_epoch():
    raw = json.dumps(
        [
            {"ts": "2026-11-21T16:00:00+08:00", "temperature": 18.5, "humidity": 50, "seq": 1},
            {"ts": NOW.timestamp() - 60, "temperature": 18.6, "humidity": 51, "battery": 88},
        ]
    ).encode()
    readings, errors = parse_telemetry(raw)
    assert errors == []
    assert readings[0].ts == NOW and readings[0].seq == 1
    assert readings[1].battery == 88


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"x" * (payloads.MAX_PAYLOAD_BYTES + 1), DeadLetterReason.TOO_LARGE),
        (b"\xff\xfe", DeadLetterReason.BAD_ENCODING),
        (b"{not json", DeadLetterReason.BAD_JSON),
        (b'"hello"', DeadLetterReason.BAD_SHAPE),
        (b"[]", DeadLetterReason.BAD_SHAPE),
        (b'{"ts": 1795248000, "temperature": NaN, "humidity": 40}', DeadLetterReason.BAD_NUMBER),
        (b'{"ts": 1795248000, "temperature": Infinity}', DeadLetterReason.BAD_NUMBER),
        (b'{"ts": 1795248000, "temperature": 1e999}', DeadLetterReason.BAD_NUMBER),
        (b'{"ts": 1795248000, "temperature": "20"}', DeadLetterReason.BAD_NUMBER),
        (b'{"ts": 1795248000, "temperature": true}', DeadLetterReason.BAD_NUMBER),
        (b'{"ts": 1795248000, "humidity": 150}', DeadLetterReason.OUT_OF_RANGE),
        (b'{"ts": 1795248000, "temperature": -41}', DeadLetterReason.OUT_OF_RANGE),
        (b'{"ts": "2099-01-01T00:00:00+00:00", "humidity": 50}', DeadLetterReason.FUTURE_TIMESTAMP),
        (b'{"ts": "2026-11-01T00:00:00+00:00", "humidity": 50}', DeadLetterReason.OLD_TIMESTAMP),
        (b'{"ts": "2026-11-21T08:00:00", "humidity": 50}', DeadLetterReason.BAD_TIMESTAMP),
        (b'{"ts": "yesterday", "humidity": 50}', DeadLetterReason.BAD_TIMESTAMP),
        (b'{"ts": 1e300, "humidity": 50}', DeadLetterReason.BAD_TIMESTAMP),
        (b'{"humidity": 50}', DeadLetterReason.MISSING_FIELD),
        (b'{"ts": 1795248000}', DeadLetterReason.MISSING_FIELD),
        (b'{"ts": 1795248000, "humidity": 50, "sensor_id": "TH-2"}', DeadLetterReason.ID_MISMATCH),
    ],
)
def test_bad_telemetry_reasons(raw, reason):
    assert reason_of(raw) == reason


def test_array_keeps_good_items_and_reports_bad_ones():
    raw = json.dumps(
        [{"ts": NOW.isoformat(), "humidity": 50}, {"ts": NOW.isoformat(), "humidity": 150}]
    )
    readings, errors = parse_telemetry(raw.encode())
    assert len(readings) == 1
    assert errors[0].reason == DeadLetterReason.OUT_OF_RANGE
    assert errors[0].detail.startswith("[1]")


def test_alarm_and_status_payloads():
    alarm = parse_alarm(
        json.dumps({"ts": NOW.isoformat(), "code": "water_leak", "severity": "critical"}).encode(),
        sensor_id="L-1",
        now=NOW,
    )
    assert alarm.active and alarm.code == "water_leak"
    with pytest.raises(PayloadError) as info:
        parse_alarm(
            b'{"ts": 1795248000, "code": "x", "severity": "apocalyptic"}', sensor_id="L", now=NOW
        )
    assert info.value.reason == DeadLetterReason.BAD_ALARM
    assert parse_status(b"offline") == "offline"
    with pytest.raises(PayloadError):
        parse_status(b"sleepy")


def test_dew_point():
    assert dew_point(20.0, 50.0) == pytest.approx(9.26, abs=0.05)
    assert dew_point(20.0, 100.0) == pytest.approx(20.0, abs=0.01)
    assert dew_point(None, 50.0) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["ts", "temperature", "humidity", "battery", "seq", "id", "code"])
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


def _never_raises_other_than_payload_error(raw: bytes) -> None:
    for call in (
        lambda: parse_telemetry(raw),
        lambda: parse_alarm(raw, sensor_id="TH-1", now=NOW),
        lambda: parse_status(raw),
    ):
        with contextlib.suppress(PayloadError):
            call()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_fuzz_raw_bytes(raw):
    _never_raises_other_than_payload_error(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_json_structures(value):
    raw = json.dumps(value, allow_nan=True).encode()
    _never_raises_other_than_payload_error(raw)


@settings(max_examples=200, deadline=None)
@given(
    ts=st.one_of(st.floats(), st.integers(), st.text(max_size=40), st.none()),
    temperature=st.one_of(st.floats(), st.integers(), st.none()),
    humidity=st.one_of(st.floats(), st.integers(), st.none()),
)
def test_fuzz_valid_readings_are_in_physical_ranges(ts, temperature, humidity):
    raw = json.dumps({"ts": ts, "temperature": temperature, "humidity": humidity}).encode()
    try:
        readings, _ = parse_telemetry(raw)
    except PayloadError:
        return
    for reading in readings:
        assert reading.temperature is None or -40 <= reading.temperature <= 85
        assert reading.humidity is None or 0 <= reading.humidity <= 100
        assert NOW - dt.timedelta(days=7) <= reading.ts <= NOW + dt.timedelta(minutes=5)
