"""Sensor sources: what off-the-shelf devices and gateways publish, read as Lantai readings.

A source (``devices.models.SensorSource``, defined by an administrator) names one or more MQTT
topic filters, where the sensor id sits (a topic level, or a path in the payload) and a
*mapping*: which topics carry telemetry, availability or per-value messages (``routes``, keyed
by the topic levels after the id level), where temperature, humidity, battery and time are in
the payload (dotted paths, ``*`` for any one key), a scale and offset per value, °F → °C, the
time zone of times written without an offset, and which payload values are device alarms.

A *profile* is a ready-made mapping for one kind of device (``PROFILES``); the source's own
``mapping`` is laid over it key by key, so a generic JSON source spells everything out and a
Zigbee2MQTT source overrides only what differs. ``compile_source`` checks a mapping once, when
it is saved (``MappingError`` names every problem), into a ``SourceSpec`` that the ingest worker
runs per message without further checks; ``SourceSet`` holds the compiled sources of one
registry version and finds the source of a topic (the topic filters themselves are matched by
``devices.mqtt.topics``, the one place topics are parsed).

Everything a source yields is checked by the same rules as Lantai's own contract
(``devices.mqtt.payloads``: text, ranges, timestamps within the horizon), and goes the same
way: ``devices.ingest`` turns it into a ``Parsed`` for the one writer. Nothing here touches the
database.

Formats, as documented by each project (checked 2026-12, cited per profile below):

- Zigbee2MQTT: ``zigbee2mqtt/FRIENDLY_NAME`` carries the device state as JSON, e.g.
  ``{"temperature": 27.34, "humidity": 44.72}``; ``zigbee2mqtt/FRIENDLY_NAME/availability``
  the online/offline state, retained (https://www.zigbee2mqtt.io/guide/usage/
  mqtt_topics_and_messages.html, .../guide/configuration/device-availability.html; JSON
  ``{"state": "online"}`` since 1.30, plain ``online`` with ``legacy_availability_payload``).
  Exposes: ``water_leak``, ``smoke``, ``tamper`` (true = on), ``contact`` (true = closed,
  false = open) (https://www.zigbee2mqtt.io/devices/TS0207_water_leak_detector_3.html).
- Tasmota: ``tele/%topic%/SENSOR`` ``{"Time": "2019-01-01T00:00:00", "AM2301":
  {"Temperature": 24.6, "Humidity": 58.2}, "TempUnit": "C"}`` — local time without an offset,
  the sensor's own key (AM2301, DHT11, BME280, SI7021…) (https://tasmota.github.io/docs/AM2301);
  ``tele/%topic%/LWT`` ``Online``/``Offline`` (https://tasmota.github.io/docs/MQTT).
- Shelly gen 1: one value per topic, ``shellies/<id>/sensor/temperature`` → ``21.5``,
  ``.../sensor/humidity``, ``.../sensor/battery``, ``.../sensor/flood`` → ``true``/``false``,
  and ``shellies/<id>/online`` ``true``/``false`` (Shelly gen 1 MQTT API, as used by
  bieniu/ha-shellies-discovery and windkh/node-red-contrib-shelly).
- Shelly gen 2/3 (Plus H&T, H&T Gen3, Plus Flood): RPC notifications on
  ``<shelly-id>/events/rpc``: ``{"src": "<shelly-id>", "method": "NotifyStatus" |
  "NotifyFullStatus", "params": {"ts": <unix UTC>, "temperature:0": {"tC": 19.8, "tF": 67.6},
  "humidity:0": {"rh": 42.2}, "devicepower:0": {"battery": {"percent": 84}}}}``; a NotifyStatus
  carries only what changed (https://shelly-api-docs.shelly.cloud/gen2/General/Notifications,
  .../gen2/Devices/Gen2/ShellyPlusHT); ``<shelly-id>/online`` ``true``/``false``.
- Home Assistant MQTT state topics: a JSON state topic read with ``value_json.<key>``, an
  availability topic with ``payload_available``/``payload_not_available`` ``online``/
  ``offline``, binary sensors ``ON``/``OFF`` (https://www.home-assistant.io/integrations/
  sensor.mqtt, .../binary_sensor.mqtt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.choices import DeadLetterReason
from devices.mqtt import payloads, topics

ALARM_CODES = ("water_leak", "smoke", "door_open", "tamper")
SEVERITIES = payloads.DEVICE_SEVERITIES
TIME_FORMATS = ("auto", "iso", "epoch", "epoch_ms")
UNITS = ("C", "F")
QUANTITIES = ("temperature", "humidity", "battery")
ROUTE_KINDS = (
    "telemetry",
    "status",
    "ignore",
    "value:temperature",
    "value:humidity",
    "value:battery",
    "alarm",
    "lantai:telemetry",
    "lantai:alarm",
    "lantai:status",
)
OTHER_TOPICS = ("ignore", "dead_letter")
EMPTY = ("ignore", "dead_letter")
PATH_MAX_LEVELS = 8
PATH_LEVEL_RE = re.compile(r"[^\x00-\x1f\x7f.]{1,64}")
ID_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{0,20}")
NUMBER_TEXT_MAX = 32
MAPPING_KEYS = frozenset(
    {
        "routes",
        "other_topics",
        "ignore_ids",
        "require",
        "temperature",
        "humidity",
        "battery",
        "time",
        "status",
        "alarms",
        "empty",
    }
)
FIELD_KEYS = {
    "temperature": frozenset({"path", "scale", "offset", "unit", "unit_path"}),
    "humidity": frozenset({"path", "scale", "offset"}),
    "battery": frozenset({"path", "scale", "offset"}),
    "time": frozenset({"path", "format", "timezone", "when_missing"}),
    "status": frozenset({"path", "online", "offline"}),
    "require": frozenset({"path", "in"}),
}
ALARM_KEYS = frozenset({"path", "topic", "code", "severity", "active_when", "message"})

# Ready-made profiles: the topic filters and sensor id a device of that kind uses by default,
# and its mapping. The administrator may change the filters (a Zigbee2MQTT base topic, a
# Tasmota FullTopic) and lay their own keys over the mapping.
PROFILES: dict[str, dict[str, Any]] = {
    # https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
    "zigbee2mqtt": {
        "topic_filters": ["zigbee2mqtt/#"],
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {
            "routes": {"": "telemetry", "availability": "status"},
            # the bridge's own topics; /set and /get are commands to devices
            "ignore_ids": ["bridge"],
            "other_topics": "ignore",
            "temperature": {"path": "temperature"},
            "humidity": {"path": "humidity"},
            "battery": {"path": "battery"},
            # optional ``last_seen`` (advanced.last_seen: ISO_8601 or epoch); else receive time
            "time": {"path": "last_seen", "format": "auto", "when_missing": "receive"},
            "status": {"path": "state", "online": ["online"], "offline": ["offline"]},
            "alarms": [
                {"path": "water_leak", "code": "water_leak", "severity": "critical"},
                {"path": "smoke", "code": "smoke", "severity": "critical"},
                # contact: true = closed, false = open
                {"path": "contact", "code": "door_open", "severity": "major", "active_when": False},
                {"path": "tamper", "code": "tamper", "severity": "major"},
            ],
            # a button's {"action": "single"}, a router's state: not for the archive
            "empty": "ignore",
        },
    },
    # https://tasmota.github.io/docs/AM2301 (tele/%topic%/SENSOR), https://tasmota.github.io/docs/MQTT
    "tasmota": {
        "topic_filters": ["tele/+/+"],
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {
            "routes": {"SENSOR": "telemetry", "LWT": "status"},
            "other_topics": "ignore",  # STATE, INFO1…3, RESULT
            "temperature": {"path": "*.Temperature", "unit_path": "TempUnit"},
            "humidity": {"path": "*.Humidity"},
            # Tasmota writes local time without an offset: the device's time zone goes here
            "time": {"path": "Time", "format": "iso", "timezone": "Asia/Shanghai"},
            "status": {"online": ["online"], "offline": ["offline"]},
            "empty": "dead_letter",
        },
    },
    # Shelly gen 1 MQTT: shellies/<id>/sensor/<value>, shellies/<id>/online
    "shelly_gen1": {
        "topic_filters": ["shellies/+/sensor/+", "shellies/+/online"],
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {
            "routes": {
                "sensor/temperature": "value:temperature",
                "sensor/humidity": "value:humidity",
                "sensor/battery": "value:battery",
                "online": "status",
            },
            "other_topics": "ignore",  # sensor/lux, sensor/error, sensor/act_reasons…
            "time": {"when_missing": "receive"},
            "temperature": {"unit": "C"},  # the device's unit setting; "F" if so configured
            "status": {"online": ["true"], "offline": ["false"]},
            "alarms": [
                {"topic": "sensor/flood", "code": "water_leak", "severity": "critical"},
                {"topic": "sensor/smoke", "code": "smoke", "severity": "critical"},
                # Shelly Door/Window: sensor/state open | close
                {
                    "topic": "sensor/state",
                    "code": "door_open",
                    "severity": "major",
                    "active_when": "open",
                },
                {"topic": "sensor/tilt_alarm", "code": "tamper", "severity": "major"},
            ],
            "empty": "ignore",
        },
    },
    # https://shelly-api-docs.shelly.cloud/gen2/General/Notifications
    "shelly_gen2": {
        "topic_filters": ["+/events/rpc", "+/online"],
        "sensor_id_from": "topic",
        "sensor_id_level": 0,
        "mapping": {
            "routes": {"events/rpc": "telemetry", "online": "status"},
            "other_topics": "ignore",
            "require": {"path": "method", "in": ["NotifyStatus", "NotifyFullStatus"]},
            "temperature": {"path": "params.temperature:0.tC"},
            "humidity": {"path": "params.humidity:0.rh"},
            "battery": {"path": "params.devicepower:0.battery.percent"},
            "time": {"path": "params.ts", "format": "epoch", "when_missing": "receive"},
            "status": {"online": ["true"], "offline": ["false"]},
            "alarms": [
                {"path": "params.flood:0.alarm", "code": "water_leak", "severity": "critical"},
                {"path": "params.smoke:0.alarm", "code": "smoke", "severity": "critical"},
            ],
            # a NotifyStatus of the Wi-Fi or the battery alone
            "empty": "ignore",
        },
    },
    # https://www.home-assistant.io/integrations/sensor.mqtt (state_topic + value_json,
    # availability_topic online/offline), .../binary_sensor.mqtt (payload_on ON)
    "home_assistant": {
        "topic_filters": ["homeassistant-state/+/state", "homeassistant-state/+/availability"],
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {
            "routes": {"state": "telemetry", "availability": "status"},
            "other_topics": "ignore",
            "temperature": {"path": "temperature"},
            "humidity": {"path": "humidity"},
            "battery": {"path": "battery"},
            "time": {"path": "time", "format": "auto", "when_missing": "receive"},
            "status": {"online": ["online"], "offline": ["offline"]},
            "alarms": [
                {
                    "path": "moisture",
                    "code": "water_leak",
                    "severity": "critical",
                    "active_when": "ON",
                },
                {"path": "smoke", "code": "smoke", "severity": "critical", "active_when": "ON"},
                {"path": "door", "code": "door_open", "severity": "major", "active_when": "ON"},
                {"path": "tamper", "code": "tamper", "severity": "major", "active_when": "ON"},
            ],
            "empty": "dead_letter",
        },
    },
    # Lantai's own contract (SPEC "MQTT topics") under another prefix, e.g. a second site's
    # gateway publishing ``site2/sensors/{id}/telemetry``
    "lantai": {
        "topic_filters": ["site2/sensors/+/+"],
        "sensor_id_from": "topic",
        "sensor_id_level": 2,
        "mapping": {
            "routes": {
                "telemetry": "lantai:telemetry",
                "alarm": "lantai:alarm",
                "status": "lantai:status",
            },
            "other_topics": "dead_letter",
        },
    },
    # Anything else that publishes JSON: a DTU gateway for RS485/Modbus sensors, a PLC…
    "generic": {
        "topic_filters": ["dtu/+/data"],
        "sensor_id_from": "topic",
        "sensor_id_level": 1,
        "mapping": {
            "routes": {"*": "telemetry"},
            "other_topics": "dead_letter",
            "temperature": {"path": "temperature"},
            "humidity": {"path": "humidity"},
            "time": {"when_missing": "receive"},
            "empty": "dead_letter",
        },
    },
}
PROFILE_NAMES = tuple(PROFILES)


class MappingError(Exception):
    """A source that could never work; ``problems`` maps a field to its messages."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {m}" for k, msgs in problems.items() for m in msgs))
        self.problems = problems


# --- paths -----------------------------------------------------------------------------------
Path = tuple[str, ...]
_MISSING = object()


def parse_path(text: Any) -> Path:
    """``"params.temperature:0.tC"`` → ("params", "temperature:0", "tC"); ValueError if bad."""
    if not isinstance(text, str) or not text:
        raise ValueError("a path is a non-empty text such as 'AM2301.Temperature'")
    levels = tuple(text.split("."))
    if len(levels) > PATH_MAX_LEVELS:
        raise ValueError(f"{text[:60]!r}: at most {PATH_MAX_LEVELS} levels")
    for level in levels:
        if not PATH_LEVEL_RE.fullmatch(level):
            raise ValueError(f"{text[:60]!r}: an empty level or a control character")
    return levels


def lookup(data: Any, path: Path) -> Any:
    """The value at ``path`` (``*``: the first key whose subtree has the rest), else _MISSING."""
    value = data
    for index, key in enumerate(path):
        if type(value) is not dict:
            return _MISSING
        if key == "*":
            rest = path[index + 1 :]
            for item in value.values():
                found = lookup(item, rest) if rest else item
                if found is not _MISSING:
                    return found
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def dotted(path: Path) -> str:
    return ".".join(path)


def normalised(value: Any) -> str:
    """Payload words compared without case: true/"true"/"TRUE", "ON", 1."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value).strip().lower()


# --- compiled sources ------------------------------------------------------------------------
@dataclass(frozen=True)
class Quantity:
    path: Path | None
    scale: float = 1.0
    offset: float = 0.0
    fahrenheit: bool = False
    unit_path: Path | None = None


@dataclass(frozen=True)
class AlarmRule:
    code: str
    severity: str
    active_when: str  # normalised
    path: Path | None = None
    topic: str | None = None
    message: str = ""


@dataclass
class SourceResult:
    """What one message on a source's topics became (``devices.ingest`` makes it a Parsed)."""

    sensor_id: str = ""
    readings: list[payloads.TelemetryReading] = field(default_factory=list)
    alarms: list[payloads.DeviceAlarm] = field(default_factory=list)
    status: str | None = None
    errors: list[payloads.PayloadError] = field(default_factory=list)
    ignored: bool = False  # nothing for the archive (a bridge topic, a button): acknowledged


def _error(reason: str, detail: str) -> payloads.PayloadError:
    return payloads.PayloadError(reason, detail)


@dataclass(frozen=True)
class SourceSpec:
    pk: int | None
    name: str
    enabled: bool
    profile: str
    filters: tuple[tuple[str, ...], ...]
    id_level: int | None
    id_path: Path | None
    id_prefix: str
    routes: dict[str, str]
    other_topics: str
    ignore_ids: frozenset[str]
    require: tuple[Path, frozenset[str]] | None
    quantities: dict[str, Quantity]
    time_path: Path | None
    time_format: str
    time_zone: dt.tzinfo
    time_when_missing: str  # "receive" or "dead_letter"
    status_path: Path | None
    online: frozenset[str]
    offline: frozenset[str]
    alarms: tuple[AlarmRule, ...]
    empty: str

    # --- topics ----------------------------------------------------------------------------
    def anchor(self, levels: tuple[str, ...]) -> int:
        """The level after which the route suffix starts: the id level, else the first
        wildcard of the matching filter."""
        if self.id_level is not None:
            return self.id_level
        for level_no, level in enumerate(levels):
            if level in ("+", "#"):
                return level_no
        return len(levels) - 1

    def match(self, topic_levels: list[str]) -> tuple[str, str] | None:
        """(route kind, suffix) for a topic on one of this source's filters, else None."""
        for levels in self.filters:
            if topics.filter_matches(levels, topic_levels):
                anchor = self.anchor(levels)
                suffix = "/".join(topic_levels[anchor + 1 :])
                kind = self.routes.get(suffix) or self.routes.get("*")
                if kind is None:
                    if any(rule.topic == suffix for rule in self.alarms):
                        kind = "alarm"
                    else:
                        kind = "" if self.other_topics == "dead_letter" else "ignore"
                return kind, suffix
        return None

    # --- one message -----------------------------------------------------------------------
    def parse(
        self,
        topic: str,
        raw: bytes,
        *,
        now: dt.datetime,
        horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
    ) -> SourceResult | None:
        """None when the topic is not this source's; never raises otherwise."""
        topic_levels = topic.split("/")
        matched = self.match(topic_levels)
        if matched is None:
            return None
        kind, suffix = matched
        result = SourceResult()
        try:
            self._parse(result, kind, suffix, topic_levels, raw, now, horizon)
        except payloads.PayloadError as exc:
            result.errors = [exc]
        except Exception as exc:  # the worker never crashes on input  # pragma: no cover
            result.errors = [_error(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
        return result

    def _topic_id(self, topic_levels: list[str]) -> str:
        assert self.id_level is not None
        if self.id_level >= len(topic_levels):
            raise _error(DeadLetterReason.BAD_TOPIC, f"no level {self.id_level} for the id")
        return topic_levels[self.id_level]

    def _checked_id(self, raw_id: Any, where: str) -> str:
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise _error(DeadLetterReason.BAD_TOPIC, f"sensor id at {where} is not a text")
        sensor_id = self.id_prefix + str(raw_id)
        if not topics.SENSOR_ID_RE.fullmatch(sensor_id):
            raise _error(
                DeadLetterReason.BAD_TOPIC,
                f"sensor id {payloads.storable(sensor_id, 70)!r} at {where}: use letters, digits, "
                "'_', '.', '-' (at most 64)",
            )
        return sensor_id

    def _parse(
        self,
        result: SourceResult,
        kind: str,
        suffix: str,
        topic_levels: list[str],
        raw: bytes,
        now: dt.datetime,
        horizon: dt.timedelta,
    ) -> None:
        if kind == "ignore":
            result.ignored = True
            return
        if kind == "":
            raise _error(DeadLetterReason.BAD_TOPIC, f"no route for the topic suffix {suffix!r}")
        topic_id = self._topic_id(topic_levels) if self.id_level is not None else None
        if topic_id is not None and topic_id in self.ignore_ids:
            result.ignored = True
            return
        if kind.startswith("lantai:"):
            assert topic_id is not None
            result.sensor_id = self._checked_id(topic_id, f"topic level {self.id_level}")
            native = kind[7:]
            if native == topics.TELEMETRY:
                result.readings, result.errors = payloads.parse_telemetry(
                    raw, sensor_id=result.sensor_id, now=now, horizon=horizon
                )
            elif native == topics.ALARM:
                result.alarms = [payloads.parse_alarm(raw, sensor_id=result.sensor_id, now=now)]
            else:
                result.status = payloads.parse_status(raw)
            return
        data = payloads.decode_json(raw) if kind == "telemetry" else _value(raw)
        if self.id_path is not None:
            found = lookup(data, self.id_path)
            if found is _MISSING:
                raise _error(
                    DeadLetterReason.MISSING_FIELD, f"{dotted(self.id_path)}: no sensor id"
                )
            result.sensor_id = self._checked_id(found, dotted(self.id_path))
        else:
            result.sensor_id = self._checked_id(topic_id, f"topic level {self.id_level}")
        if kind == "status":
            value = data
            if self.status_path is not None and type(data) is dict:
                value = lookup(data, self.status_path)
            word = normalised(value)
            if word in self.online:
                result.status = "online"
            elif word in self.offline:
                result.status = "offline"
            else:
                raise _error(DeadLetterReason.BAD_STATUS, f"status {word[:20]!r}")
            return
        if kind == "alarm":
            for rule in self.alarms:
                if rule.topic == suffix:
                    result.alarms.append(self._alarm(rule, data, now))
            return
        if kind.startswith("value:"):
            quantity = kind[6:]
            number = self._number(quantity, data, "payload", data)
            if quantity == "battery" or number is None:
                result.ignored = True  # a battery alone makes no reading
                return
            values = {"temperature": None, "humidity": None}
            values[quantity] = number
            result.readings = [
                payloads.TelemetryReading(
                    now, values["temperature"], values["humidity"], None, None, True
                )
            ]
            return
        # telemetry: a JSON object
        if type(data) is not dict:
            raise _error(DeadLetterReason.BAD_SHAPE, f"payload is {type(data).__name__}")
        if self.require is not None:
            path, allowed = self.require
            if normalised(lookup(data, path)) not in allowed:
                result.ignored = True
                return
        temperature = self._quantity(data, "temperature")
        humidity = self._quantity(data, "humidity")
        battery = self._quantity(data, "battery")
        for rule in self.alarms:
            if rule.path is not None and lookup(data, rule.path) is not _MISSING:
                result.alarms.append(self._alarm(rule, data, now))
        if temperature is None and humidity is None and not result.alarms:
            if self.empty == "ignore":
                result.ignored = True
                return
            tried = [
                dotted(q.path)
                for name in ("temperature", "humidity")
                if (q := self.quantities.get(name)) and q.path
            ]
            raise _error(
                DeadLetterReason.MISSING_FIELD,
                f"{' / '.join(tried) or 'no path'}: neither temperature nor humidity",
            )
        ts, estimated = self._time(data, now, horizon)
        if result.alarms:
            result.alarms = [dataclasses.replace(alarm, ts=ts) for alarm in result.alarms]
        if temperature is None and humidity is None:
            return  # an alarm alone (a leak sensor's state)
        result.readings = [
            payloads.TelemetryReading(
                ts,
                temperature,
                humidity,
                None if battery is None else int(round(battery)),
                None,
                estimated,
            )
        ]

    def _quantity(self, data: dict, name: str) -> float | None:
        quantity = self.quantities.get(name)
        if quantity is None or quantity.path is None:
            return None
        value = lookup(data, quantity.path)
        if value is _MISSING or value is None:
            return None
        return self._number(name, value, dotted(quantity.path), data)

    def _number(self, name: str, value: Any, where: str, data: Any) -> float | None:
        quantity = self.quantities.get(name) or Quantity(None)
        if type(value) is str and len(value) <= NUMBER_TEXT_MAX:
            try:
                value = float(value)
            except ValueError:
                raise _error(
                    DeadLetterReason.BAD_NUMBER, f"{where}: {value[:20]!r} is not a number"
                ) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _error(DeadLetterReason.BAD_NUMBER, f"{where}: not a number")
        try:
            number = float(value) * quantity.scale + quantity.offset
        except OverflowError:
            raise _error(DeadLetterReason.BAD_NUMBER, f"{where}: too large") from None
        if not math.isfinite(number):
            raise _error(DeadLetterReason.BAD_NUMBER, f"{where}: not finite")
        fahrenheit = quantity.fahrenheit
        if quantity.unit_path is not None and type(data) is dict:
            unit = lookup(data, quantity.unit_path)
            if unit is not _MISSING:
                word = normalised(unit).upper()
                if word not in UNITS:
                    raise _error(
                        DeadLetterReason.BAD_NUMBER,
                        f"{dotted(quantity.unit_path)}: unit {word[:10]!r} is neither C nor F",
                    )
                fahrenheit = word == "F"
        if fahrenheit:
            number = (number - 32.0) * 5.0 / 9.0
        bounds = {
            "temperature": payloads.TEMPERATURE_RANGE,
            "humidity": payloads.HUMIDITY_RANGE,
            "battery": payloads.BATTERY_RANGE,
        }[name]
        low, high = bounds
        if not low <= number <= high:
            raise _error(
                DeadLetterReason.OUT_OF_RANGE,
                f"{where}: {name} {number:g} outside {low:g}…{high:g}",
            )
        return round(number, 3)

    def _time(self, data: Any, now: dt.datetime, horizon: dt.timedelta) -> tuple[dt.datetime, bool]:
        """(timestamp, taken on receipt?)"""
        value = _MISSING if self.time_path is None else lookup(data, self.time_path)
        if value is _MISSING or value is None:
            if self.time_when_missing == "receive":
                return now, True
            where = dotted(self.time_path) if self.time_path else "time"
            raise _error(DeadLetterReason.MISSING_FIELD, f"{where}: no time")
        where = dotted(self.time_path or ())
        fmt = self.time_format
        epoch: float
        if isinstance(value, bool):
            raise _error(DeadLetterReason.BAD_TIMESTAMP, f"{where}: not a time")
        if isinstance(value, int | float) and fmt in ("auto", "epoch", "epoch_ms"):
            epoch = float(value)
            if fmt == "epoch_ms" or (fmt == "auto" and epoch > 1e11):
                epoch /= 1000.0
        elif isinstance(value, str) and fmt in ("auto", "iso") and len(value) <= 40:
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                raise _error(
                    DeadLetterReason.BAD_TIMESTAMP, f"{where}: {value[:40]!r} is not ISO 8601"
                ) from None
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                parsed = parsed.replace(tzinfo=self.time_zone)
            epoch = parsed.timestamp()
        else:
            raise _error(
                DeadLetterReason.BAD_TIMESTAMP, f"{where}: {str(value)[:40]!r} is not a {fmt} time"
            )
        try:
            ts = payloads.parse_timestamp(epoch, now=now, horizon=horizon)
        except payloads.PayloadError as exc:
            exc.detail = f"{where}: {exc.detail}"[:500]
            raise
        return ts, False

    def _alarm(self, rule: AlarmRule, data: Any, now: dt.datetime) -> payloads.DeviceAlarm:
        value = data if rule.path is None else lookup(data, rule.path)
        active = normalised(value) == rule.active_when
        return payloads.DeviceAlarm(now, rule.code, rule.severity, active, rule.message)


def _value(raw: bytes) -> Any:
    """A single-value payload: JSON (``21.5``, ``true``, ``{"state": "online"}``) or plain
    text (``Online``, ``ON``), checked like any device text."""
    try:
        return payloads.decode_json(raw)
    except payloads.PayloadError as exc:
        if exc.reason != DeadLetterReason.BAD_JSON:
            raise
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # pragma: no cover - decode_json said BAD_JSON after it
        raise _error(DeadLetterReason.BAD_ENCODING, str(exc)) from None
    return payloads.check_text(text.strip(), "payload", max_length=payloads.STATUS_MAX)


# --- compiling (saving) ----------------------------------------------------------------------
def merged_mapping(profile: str, mapping: dict[str, Any] | None) -> dict[str, Any]:
    """The profile's mapping with the source's own keys laid over it (one level deep: a
    source's ``temperature`` replaces keys of the profile's ``temperature``)."""
    base = PROFILES.get(profile, PROFILES["generic"])["mapping"]
    result: dict[str, Any] = {key: value for key, value in base.items()}
    for key, value in (mapping or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    return result


def compile_source(
    *,
    name: str,
    profile: str,
    topic_filters: list[str],
    sensor_id_from: str = "topic",
    sensor_id_level: int | None = None,
    sensor_id_path: str = "",
    sensor_id_prefix: str = "",
    mapping: dict[str, Any] | None = None,
    enabled: bool = True,
    pk: int | None = None,
) -> SourceSpec:
    """Check a source once and for all; ``MappingError`` lists every problem by field."""
    problems: dict[str, list[str]] = {}

    def problem(key: str, message: str) -> None:
        problems.setdefault(key, []).append(message)

    if profile not in PROFILES:
        problem("profile", f"unknown profile {str(profile)[:30]!r}")
    filters: list[tuple[str, ...]] = []
    if not topic_filters:
        problem("topic_filters", "at least one topic filter")
    for topic_filter in topic_filters:
        why = topics.filter_problem(topic_filter)
        if why:
            problem("topic_filters", f"{topic_filter[:60]!r}: {why}")
        else:
            filters.append(topics.split_filter(topic_filter))
    id_level: int | None = None
    id_path: Path | None = None
    if sensor_id_from == "topic":
        if sensor_id_level is None or not 0 <= sensor_id_level < topics.FILTER_MAX_LEVELS:
            problem("sensor_id_level", "the topic level that holds the sensor id (0 = first)")
        else:
            id_level = sensor_id_level
            for levels in filters:
                in_hash = "#" in levels and sensor_id_level >= levels.index("#")
                if not in_hash and (
                    sensor_id_level >= len(levels) or levels[sensor_id_level] != "+"
                ):
                    problem(
                        "sensor_id_level",
                        f"level {sensor_id_level} of {'/'.join(levels)!r} is not a '+' or '#' "
                        "level: every sensor would get the same id",
                    )
    elif sensor_id_from == "payload":
        try:
            id_path = parse_path(sensor_id_path)
        except ValueError as exc:
            problem("sensor_id_path", str(exc))
    else:
        problem("sensor_id_from", "'topic' or 'payload'")
    if not ID_PREFIX_RE.fullmatch(sensor_id_prefix or ""):
        problem("sensor_id_prefix", "letters, digits, '_', '.', '-' (at most 20)")

    if mapping is not None and not isinstance(mapping, dict):
        problem("mapping", "the mapping is a JSON object")
        mapping = {}
    merged = merged_mapping(profile, mapping)
    for key in merged:
        if key not in MAPPING_KEYS:
            problem("mapping", f"unknown key {str(key)[:30]!r}")

    def section(key: str) -> dict[str, Any]:
        value = merged.get(key) or {}
        if not isinstance(value, dict):
            problem("mapping", f"{key} is an object")
            return {}
        for sub in value:
            if sub not in FIELD_KEYS[key]:
                problem("mapping", f"{key}.{str(sub)[:30]}: unknown key")
        return value

    def path_of(key: str, value: Any) -> Path | None:
        if value is None or value == "":
            return None
        try:
            return parse_path(value)
        except ValueError as exc:
            problem("mapping", f"{key}: {exc}")
            return None

    def number_of(key: str, value: Any, default: float) -> float:
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(float(value))
        ):
            problem("mapping", f"{key}: a finite number")
            return default
        return float(value)

    routes_raw = merged.get("routes") or {}
    routes: dict[str, str] = {}
    if not isinstance(routes_raw, dict):
        problem("mapping", "routes is an object: topic suffix → kind")
    else:
        for suffix, kind in routes_raw.items():
            if kind not in ROUTE_KINDS:
                problem("mapping", f"routes.{str(suffix)[:30]}: kind {str(kind)[:30]!r} unknown")
            elif kind.startswith("lantai:") and id_level is None:
                problem("mapping", "Lantai's contract takes the sensor id from the topic")
            else:
                routes[str(suffix)] = kind
    other = merged.get("other_topics", "dead_letter")
    if other not in OTHER_TOPICS:
        problem("mapping", "other_topics: 'ignore' or 'dead_letter'")
    empty = merged.get("empty", "dead_letter")
    if empty not in EMPTY:
        problem("mapping", "empty: 'ignore' or 'dead_letter'")
    ignore_ids = merged.get("ignore_ids") or []
    if not isinstance(ignore_ids, list) or not all(isinstance(i, str) for i in ignore_ids):
        problem("mapping", "ignore_ids: a list of texts")
        ignore_ids = []

    require: tuple[Path, frozenset[str]] | None = None
    require_raw = section("require")
    if require_raw:
        require_path = path_of("require.path", require_raw.get("path"))
        allowed = require_raw.get("in")
        if require_path is None or not isinstance(allowed, list) or not allowed:
            problem("mapping", "require: a path and a list 'in' of the values to take")
        else:
            require = (require_path, frozenset(normalised(v) for v in allowed))

    quantities: dict[str, Quantity] = {}
    for name_ in QUANTITIES:
        raw_q = section(name_)
        unit = raw_q.get("unit", "C")
        if unit not in UNITS:
            problem("mapping", f"{name_}.unit: {str(unit)[:10]!r} is not C or F")
        scale = number_of(f"{name_}.scale", raw_q.get("scale"), 1.0)
        if scale == 0:
            problem("mapping", f"{name_}.scale: 0 would make every value the offset")
        quantities[name_] = Quantity(
            path=path_of(f"{name_}.path", raw_q.get("path")),
            scale=scale,
            offset=number_of(f"{name_}.offset", raw_q.get("offset"), 0.0),
            fahrenheit=unit == "F",
            unit_path=path_of(f"{name_}.unit_path", raw_q.get("unit_path")),
        )

    time_raw = section("time")
    time_format = time_raw.get("format", "auto")
    if time_format not in TIME_FORMATS:
        problem("mapping", f"time.format: one of {', '.join(TIME_FORMATS)}")
    time_zone: dt.tzinfo = dt.UTC
    zone_name = time_raw.get("timezone")
    if zone_name is not None:
        try:
            if not isinstance(zone_name, str) or not zone_name:
                raise ValueError
            time_zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            problem("mapping", f"time.timezone: {str(zone_name)[:40]!r} is no known time zone")
    when_missing = time_raw.get("when_missing", "dead_letter")
    if when_missing not in ("receive", "dead_letter"):
        problem("mapping", "time.when_missing: 'receive' or 'dead_letter'")
    time_path = path_of("time.path", time_raw.get("path"))
    json_telemetry = "telemetry" in routes.values()
    if json_telemetry and time_path is None and when_missing != "receive":
        problem(
            "mapping",
            "time: give a path, or when_missing 'receive' (readings then carry the receive time)",
        )

    status_raw = section("status")
    online = status_raw.get("online", ["online"])
    offline = status_raw.get("offline", ["offline"])
    if not isinstance(online, list) or not isinstance(offline, list) or not online or not offline:
        problem("mapping", "status.online / status.offline: lists of payload words")
        online, offline = ["online"], ["offline"]

    alarms: list[AlarmRule] = []
    alarms_raw = merged.get("alarms") or []
    if not isinstance(alarms_raw, list):
        problem("mapping", "alarms is a list")
        alarms_raw = []
    for index, rule in enumerate(alarms_raw):
        where = f"alarms[{index}]"
        if not isinstance(rule, dict):
            problem("mapping", f"{where}: an object")
            continue
        for sub in rule:
            if sub not in ALARM_KEYS:
                problem("mapping", f"{where}.{str(sub)[:30]}: unknown key")
        code = rule.get("code")
        if code not in ALARM_CODES:
            problem("mapping", f"{where}.code: one of {', '.join(ALARM_CODES)}")
            continue
        severity = rule.get("severity", "major")
        if severity not in SEVERITIES:
            problem("mapping", f"{where}.severity: one of {', '.join(SEVERITIES)}")
            continue
        rule_path = path_of(f"{where}.path", rule.get("path"))
        rule_topic = rule.get("topic")
        if (rule_path is None) == (rule_topic is None):
            problem("mapping", f"{where}: either a payload path or a topic suffix")
            continue
        message = rule.get("message", "")
        if not isinstance(message, str) or len(message) > payloads.MESSAGE_MAX:
            problem("mapping", f"{where}.message: a text of at most {payloads.MESSAGE_MAX}")
            message = ""
        alarms.append(
            AlarmRule(
                code=code,
                severity=severity,
                active_when=normalised(rule.get("active_when", True)),
                path=rule_path,
                topic=str(rule_topic) if rule_topic is not None else None,
                message=message,
            )
        )

    kinds = set(routes.values())
    if (
        "telemetry" in kinds
        and not any(quantities[q].path for q in ("temperature", "humidity"))
        and not any(rule.path for rule in alarms)
    ):
        problem("mapping", "telemetry without a temperature, humidity or alarm path")
    if not routes and not any(rule.topic for rule in alarms):
        problem("mapping", "routes: at least one topic suffix → kind")
    if problems:
        raise MappingError(problems)
    return SourceSpec(
        pk=pk,
        name=name,
        enabled=enabled,
        profile=profile,
        filters=tuple(filters),
        id_level=id_level,
        id_path=id_path,
        id_prefix=sensor_id_prefix or "",
        routes=routes,
        other_topics=other,
        ignore_ids=frozenset(ignore_ids),
        require=require,
        quantities=quantities,
        time_path=time_path,
        time_format=time_format,
        time_zone=time_zone,
        time_when_missing=when_missing,
        status_path=path_of("status.path", status_raw.get("path")),
        online=frozenset(normalised(v) for v in online),
        offline=frozenset(normalised(v) for v in offline),
        alarms=tuple(alarms),
        empty=empty,
    )


class SourceSet:
    """The compiled sources of one registry version; finds the source of a topic."""

    CACHE_MAX = 8192

    def __init__(self, specs: list[SourceSpec], version: int | None = None) -> None:
        self.specs = specs
        self.version = version
        self._by_topic: dict[str, SourceSpec | None] = {}
        self._last_receipt = dt.datetime.min.replace(tzinfo=dt.UTC)

    def __bool__(self) -> bool:
        return bool(self.specs)

    def filters(self) -> list[str]:
        return sorted({"/".join(levels) for spec in self.specs for levels in spec.filters})

    def source_of(self, topic: str) -> SourceSpec | None:
        cache = self._by_topic
        if topic in cache:
            return cache[topic]
        levels = topic.split("/")
        found = next((spec for spec in self.specs if spec.match(levels) is not None), None)
        if len(cache) >= self.CACHE_MAX:
            cache.clear()
        cache[topic] = found
        return found

    def receipt_time(self, now: dt.datetime) -> dt.datetime:
        """``now``, moved on by a microsecond when it equals the last one: two per-value
        messages of one sensor (a Shelly's temperature, then its humidity) never share a
        timestamp, which (sensor, ts) unique would turn into a lost duplicate."""
        if now <= self._last_receipt:
            now = self._last_receipt + dt.timedelta(microseconds=1)
        self._last_receipt = now
        return now
