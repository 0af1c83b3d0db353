"""Sensor sources: profiles and mappings turning documented device payloads into readings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from accounts.models import AuditLog
from core.errors import Invalid
from devices import services
from devices.choices import DeadLetterReason
from devices.ingest import parse_message
from devices.models import RegistryVersion, SensorSource
from devices.mqtt import sources, topics
from tests.devices import source_fixtures as fx

NOW = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def spec_of(profile: str, **overrides) -> sources.SourceSpec:
    if "profile_name" in overrides:
        profile = overrides.pop("profile_name")
    defaults = sources.PROFILES.get(profile, sources.PROFILES["generic"])
    args = {
        "name": f"src-{profile}",
        "profile": profile,
        "topic_filters": defaults["topic_filters"],
        "sensor_id_from": defaults["sensor_id_from"],
        "sensor_id_level": defaults["sensor_id_level"],
    }
    args.update(overrides)
    return sources.compile_source(**args)


def run(spec, message, now=NOW) -> sources.SourceResult:
    topic, raw = message
    result = spec.parse(topic, raw, now=now)
    assert result is not None, topic
    return result


# --- topic filters (devices.mqtt.topics) ------------------------------------------------------
def test_filter_matching_follows_mqtt_wildcards():
    levels = topics.split_filter("shellies/+/sensor/+")
    assert topics.filter_matches(levels, ["shellies", "ht-1", "sensor", "temperature"])
    assert not topics.filter_matches(levels, ["shellies", "ht-1", "online"])
    assert topics.filter_matches(("zigbee2mqtt", "#"), ["zigbee2mqtt", "a", "availability"])
    assert topics.filter_matches(("zigbee2mqtt", "#"), ["zigbee2mqtt"])  # '#' matches the parent
    assert not topics.filter_matches(("+", "online"), ["$SYS", "online"])


@pytest.mark.parametrize(
    "topic_filter",
    ["", "#", "a/#/b", "a/b+/c", "$share/g/a/+", "$SYS/#", "a//b", "/".join(["x"] * 13)],
)
def test_malformed_filters_are_named(topic_filter):
    assert topics.filter_problem(topic_filter)


def test_overlap():
    assert topics.filters_overlap("+/sensors/+/telemetry", "lantai/sensors/+/+")
    assert topics.filters_overlap("zigbee2mqtt/#", "zigbee2mqtt/x/availability")
    assert not topics.filters_overlap("+/events/rpc", "lantai/sensors/+/telemetry")
    assert not topics.filters_overlap("tele/+/+", "shellies/+/online")


# --- profiles on their documented payloads ---------------------------------------------------
def test_zigbee2mqtt():
    spec = spec_of("zigbee2mqtt")
    messages = fx.z2m("0x00158d0001a2b3c4")
    result = run(spec, messages["telemetry"])
    assert result.sensor_id == "0x00158d0001a2b3c4" and not result.errors
    [reading] = result.readings
    assert (reading.temperature, reading.humidity, reading.battery) == (27.34, 44.72, 86)
    assert reading.ts == NOW and reading.ts_received  # no time in the payload
    assert run(spec, messages["availability"]).status == "online"
    assert run(spec, messages["availability_legacy"]).status == "offline"
    leak = run(spec, messages["leak"])
    assert not leak.readings and {(a.code, a.active) for a in leak.alarms} == {
        ("water_leak", True),
        ("tamper", False),
    }
    assert run(spec, messages["bridge"]).ignored
    bad = run(spec, messages["bad_number"])
    assert bad.errors[0].reason == DeadLetterReason.BAD_NUMBER
    assert "temperature" in bad.errors[0].detail
    assert run(spec, messages["bad_json"]).errors[0].reason == DeadLetterReason.BAD_JSON
    assert run(spec, messages["hot"]).errors[0].reason == DeadLetterReason.OUT_OF_RANGE


def test_zigbee2mqtt_last_seen_and_door_contact():
    spec = spec_of("zigbee2mqtt")
    seen = NOW - dt.timedelta(minutes=3)
    result = run(
        spec,
        (
            "zigbee2mqtt/door1",
            f'{{"contact": false, "temperature": 20, "last_seen": "{seen.isoformat()}"}}'.encode(),
        ),
    )
    [reading] = result.readings
    assert reading.ts == seen and not reading.ts_received
    [alarm] = result.alarms
    assert (alarm.code, alarm.active, alarm.ts) == ("door_open", True, seen)  # false = open


def test_tasmota_local_time_and_fahrenheit():
    spec = spec_of("tasmota")
    local = NOW.astimezone(ZoneInfo("Asia/Shanghai")) - dt.timedelta(minutes=1)
    messages = fx.tasmota("th16", time=local)
    [reading] = run(spec, messages["telemetry"]).readings
    assert reading.ts == NOW - dt.timedelta(minutes=1) and not reading.ts_received
    assert (reading.temperature, reading.humidity) == (24.6, 58.2)
    [reading] = run(spec, messages["fahrenheit"]).readings
    assert reading.temperature == 22.0  # 71.6 °F
    assert run(spec, messages["lwt_online"]).status == "online"
    assert run(spec, messages["lwt_offline"]).status == "offline"
    assert run(spec, messages["state"]).ignored
    missing = run(spec, messages["no_time"]).errors[0]
    assert missing.reason == DeadLetterReason.MISSING_FIELD and "Time" in missing.detail
    unit = run(spec, messages["bad_unit"]).errors[0]
    assert unit.reason == DeadLetterReason.BAD_NUMBER and "TempUnit" in unit.detail
    empty = run(spec, messages["no_values"]).errors[0]
    assert "*.Temperature" in empty.detail


def test_tasmota_time_zone_is_the_sources():
    spec = spec_of("tasmota", mapping={"time": {"timezone": "Europe/Berlin"}})
    local = (NOW - dt.timedelta(minutes=1)).astimezone(ZoneInfo("Europe/Berlin"))
    [reading] = run(spec, fx.tasmota("th16", time=local)["telemetry"]).readings
    assert reading.ts == NOW - dt.timedelta(minutes=1)


def test_shelly_gen1_one_value_per_topic():
    spec = spec_of("shelly_gen1")
    messages = fx.shelly_gen1("shellyht-6FE1A5")
    [reading] = run(spec, messages["temperature"]).readings
    assert (reading.temperature, reading.humidity, reading.ts_received) == (21.5, None, True)
    [reading] = run(spec, messages["humidity"]).readings
    assert (reading.temperature, reading.humidity) == (None, 45.0)
    assert run(spec, messages["battery"]).ignored
    assert run(spec, messages["lux"]).ignored
    assert run(spec, messages["online"]).status == "online"
    assert run(spec, messages["offline"]).status == "offline"
    [alarm] = run(spec, messages["flood"]).alarms
    assert (alarm.code, alarm.active) == ("water_leak", True)
    [alarm] = run(spec, messages["flood_dry"]).alarms
    assert not alarm.active
    assert run(spec, messages["bad_number"]).errors[0].reason == DeadLetterReason.BAD_NUMBER
    assert run(spec, messages["bad_online"]).errors[0].reason == DeadLetterReason.BAD_STATUS


def test_shelly_gen2_rpc_notifications():
    spec = spec_of("shelly_gen2")
    ts = (NOW - dt.timedelta(minutes=5)).timestamp()
    messages = fx.shelly_gen2("shellyplusht-08b61fcb7f3c", ts=ts)
    result = run(spec, messages["full"])
    [reading] = result.readings
    assert result.sensor_id == "shellyplusht-08b61fcb7f3c"
    assert (reading.temperature, reading.humidity, reading.battery) == (19.8, 42.2, 84)
    assert reading.ts.timestamp() == ts and not reading.ts_received
    [reading] = run(spec, messages["humidity_only"]).readings
    assert (reading.temperature, reading.humidity) == (None, 47.5)
    assert run(spec, messages["wifi_only"]).ignored
    assert run(spec, messages["event"]).ignored
    [alarm] = run(spec, messages["flood"]).alarms
    assert alarm.code == "water_leak" and alarm.active
    assert run(spec, messages["online"]).status == "online"
    assert run(spec, messages["bad_ts"]).errors[0].reason == DeadLetterReason.BAD_TIMESTAMP


def test_home_assistant_state_topics():
    spec = spec_of("home_assistant")
    messages = fx.home_assistant("archive_k01")
    [reading] = run(spec, messages["telemetry"]).readings
    assert (reading.temperature, reading.humidity) == (23.2, 43.7)
    [alarm] = run(spec, messages["leak"]).alarms
    assert alarm.code == "water_leak" and alarm.active
    assert run(spec, messages["unavailable"]).status == "offline"


def test_lantai_contract_under_another_prefix():
    spec = spec_of("lantai")
    at = (NOW - dt.timedelta(minutes=1)).isoformat()
    result = run(
        spec, ("site2/sensors/TH-9/telemetry", f'{{"ts": "{at}", "temperature": 20}}'.encode())
    )
    assert result.sensor_id == "TH-9" and result.readings[0].temperature == 20
    assert run(spec, ("site2/sensors/TH-9/status", b"offline")).status == "offline"
    assert run(spec, ("site2/sensors/TH-9/other", b"x")).errors[0].reason == (
        DeadLetterReason.BAD_TOPIC
    )


def test_generic_dtu_with_scaled_integers_and_payload_id():
    spec = spec_of(
        "generic",
        sensor_id_from="payload",
        sensor_id_path="dev",
        sensor_id_prefix="dtu1-",
        mapping=fx.DTU_MAPPING,
    )
    ts = int((NOW - dt.timedelta(minutes=2)).timestamp())
    messages = fx.dtu("gw1", "40001", ts=ts)
    result = run(spec, messages["telemetry"])
    assert result.sensor_id == "dtu1-40001"
    [reading] = result.readings
    assert (reading.temperature, reading.humidity) == (21.5, 45.5)
    assert reading.ts.timestamp() == ts
    [alarm] = run(spec, messages["leak"]).alarms
    assert alarm.active and alarm.code == "water_leak"
    missing = run(spec, messages["no_register"]).errors[0]
    assert missing.reason == DeadLetterReason.MISSING_FIELD and missing.detail.startswith("dev")
    bad = run(spec, messages["string_value"]).errors[0]
    assert bad.reason == DeadLetterReason.BAD_NUMBER and bad.detail.startswith("T:")
    assert run(spec, messages["old"]).errors[0].reason == DeadLetterReason.OLD_TIMESTAMP


def test_scale_offset_then_fahrenheit():
    spec = spec_of(
        "generic", mapping={"temperature": {"path": "t", "scale": 0.1, "offset": 2, "unit": "F"}}
    )
    [reading] = run(spec, ("dtu/a/data", b'{"t": 300}')).readings
    assert reading.temperature == pytest.approx(0.0)  # 300 × 0.1 + 2 = 32 °F


# --- mappings that can never work are refused -----------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mapping": {"temperature": {"path": "a..b"}}}, "mapping"),
        ({"mapping": {"temperature": {"unit": "K"}}}, "mapping"),
        ({"mapping": {"temperature": {"scale": 0}}}, "mapping"),
        ({"mapping": {"time": {"path": "t", "timezone": "Mars/Olympus"}}}, "mapping"),
        ({"mapping": {"time": {"format": "julian"}}}, "mapping"),
        ({"mapping": {"time": {"when_missing": "dead_letter"}}}, "mapping"),
        ({"mapping": {"routes": {"*": "teleport"}}}, "mapping"),
        ({"mapping": {"colour": "blue"}}, "mapping"),
        ({"mapping": {"alarms": [{"path": "x", "code": "fire"}]}}, "mapping"),
        ({"mapping": {"alarms": [{"path": "x", "code": "smoke", "severity": "meh"}]}}, "mapping"),
        ({"mapping": {"temperature": {"path": ""}, "humidity": {"path": ""}}}, "mapping"),
        ({"topic_filters": ["dtu/#/data"]}, "topic_filters"),
        ({"topic_filters": []}, "topic_filters"),
        ({"sensor_id_level": 0}, "sensor_id_level"),  # "dtu" for every sensor
        ({"sensor_id_from": "payload", "sensor_id_path": ""}, "sensor_id_path"),
        ({"sensor_id_prefix": "a b"}, "sensor_id_prefix"),
        ({"profile_name": "lorawan"}, "profile"),
    ],
)
def test_mapping_that_could_never_work_is_refused(overrides, field):
    overrides = {"profile": "generic", **overrides}
    with pytest.raises(sources.MappingError) as caught:
        spec_of(overrides.pop("profile"), **overrides)
    assert field in caught.value.problems


def test_id_from_topic_must_be_a_legal_sensor_id():
    result = run(spec_of("zigbee2mqtt"), ("zigbee2mqtt/living room", b'{"temperature": 20}'))
    assert result.errors[0].reason == DeadLetterReason.BAD_TOPIC


# --- one path: parse_message ----------------------------------------------------------------
def test_parse_message_native_first_then_sources():
    source_set = sources.SourceSet([spec_of("zigbee2mqtt"), spec_of("tasmota", enabled=False)])
    native = parse_message(
        "lantai/sensors/TH-1/status", b"online", topic_prefix="lantai", source_set=source_set
    )
    assert native.status == "online" and native.source == ""
    parsed = parse_message(
        *fx.z2m("th1")["telemetry"], topic_prefix="lantai", now=NOW, source_set=source_set
    )
    assert parsed.source == "src-zigbee2mqtt" and parsed.readings[0].ts_received
    disabled = parse_message(
        "tele/x/LWT", b"Online", topic_prefix="lantai", now=NOW, source_set=source_set
    )
    assert disabled.ignored and disabled.status is None and disabled.source == "src-tasmota"
    nobody = parse_message("other/x", b"1", topic_prefix="lantai", source_set=source_set)
    assert nobody.errors[0].reason == DeadLetterReason.BAD_TOPIC


def test_receipt_times_never_repeat():
    source_set = sources.SourceSet([])
    first = source_set.receipt_time(NOW)
    assert source_set.receipt_time(NOW) > first


# --- the service: audited, refused, versioned -----------------------------------------------
def z2m_fields(**changes):
    fields = {
        "name": "Zigbee gateway K01",
        "enabled": True,
        "profile": "zigbee2mqtt",
        "topic_filters": "zigbee2mqtt/#",
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {},
    }
    fields.update(changes)
    return fields


@pytest.mark.django_db
def test_save_sensor_source_is_audited_and_moves_the_version(admin_user):
    before = RegistryVersion.current(RegistryVersion.SOURCES)
    source = services.save_sensor_source(None, z2m_fields(), acting_user=admin_user)
    assert RegistryVersion.current(RegistryVersion.SOURCES) > before
    services.save_sensor_source(
        source, {"mapping": {"time": {"when_missing": "receive"}}}, acting_user=admin_user
    )
    actions = list(
        AuditLog.objects.filter(action__startswith="devices.source.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["devices.source.created", "devices.source.updated"]
    services.delete_sensor_source(source, acting_user=admin_user)
    assert not SensorSource.objects.exists()
    assert AuditLog.objects.filter(action="devices.source.deleted").count() == 1


@pytest.mark.django_db
def test_save_refuses_bad_mapping_and_overlaps(admin_user):
    with pytest.raises(Invalid) as caught:
        services.save_sensor_source(
            None, z2m_fields(mapping={"temperature": {"unit": "K"}}), acting_user=admin_user
        )
    assert "mapping" in caught.value.fields
    with pytest.raises(Invalid) as caught:
        services.save_sensor_source(
            None,
            z2m_fields(topic_filters="+/sensors/+/+", sensor_id_level=2),
            acting_user=admin_user,
        )
    assert "topic_filters" in caught.value.fields  # Lantai's own topics
    services.save_sensor_source(None, z2m_fields(), acting_user=admin_user)
    with pytest.raises(Invalid) as caught:
        services.save_sensor_source(
            None, z2m_fields(name="second", topic_filters="zigbee2mqtt/+"), acting_user=admin_user
        )
    assert "topic_filters" in caught.value.fields
    with pytest.raises(Invalid) as caught:
        services.save_sensor_source(None, z2m_fields(), acting_user=admin_user)
    assert "name" in caught.value.fields
    assert SensorSource.objects.count() == 1
    assert not AuditLog.objects.filter(action="devices.source.updated").exists()


@pytest.mark.parametrize("profile", [p for p in sources.PROFILES if p != "lantai"])
def test_simulator_speaks_each_profile(profile):
    from devices.simulator import Message, speak

    spec = spec_of(profile, mapping=fx.DTU_MAPPING if profile == "generic" else None)
    if profile == "generic":
        spec = spec_of(profile, mapping={**fx.DTU_MAPPING, "alarms": []})
    at = (NOW - dt.timedelta(minutes=1)).replace(microsecond=0).isoformat()
    reading = Message("dev-1", "telemetry", {"ts": at, "temperature": 21.5, "humidity": 45.0})
    stored = []
    for topic, raw, _retain in speak(profile, reading):
        result = spec.parse(topic, raw, now=NOW)
        assert result is not None and not result.errors, (topic, raw)
        stored += result.readings
    assert {r.temperature for r in stored} - {None} == {21.5}
    assert {r.humidity for r in stored} - {None} == {45.0}
    for topic, raw, _retain in speak(profile, Message("dev-1", "status", "offline")):
        assert spec.parse(topic, raw, now=NOW).status == "offline"
