"""Validation of device payloads at the edge (SPEC payload contracts).

Every function here either returns clean values or raises ``PayloadError`` with a reason from
``DeadLetterReason`` and a short detail; nothing else escapes, whatever the bytes.

Text: every string of a payload (keys and values, at any depth) is checked before anything else
looks at it: no NUL, no lone surrogate (JSON can escape one, ``"\\ud800"``, and no database or
UTF-8 encoder takes it), no other C0/C1 control character (tab and newline only in an alarm's
``message``), no BOM or non-character, and at most ``STRING_MAX`` characters (fields with their
own limit: alarm code, message, severity, status). A bad one is ``BAD_TEXT`` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from devices.choices import DeadLetterReason

MAX_PAYLOAD_BYTES = 16 * 1024
MAX_BATCH = 500
TEMPERATURE_RANGE = (-40.0, 85.0)
HUMIDITY_RANGE = (0.0, 100.0)
BATTERY_RANGE = (0.0, 100.0)
MAX_FUTURE = dt.timedelta(minutes=5)
DEFAULT_HORIZON = dt.timedelta(days=7)
DEVICE_SEVERITIES = ("critical", "major", "minor")
STATUSES = ("online", "offline")
CODE_MAX = 40  # Alarm.code
MESSAGE_MAX = 300  # Alarm.message
SEVERITY_MAX = 20
STATUS_MAX = 64
STRING_MAX = 300  # any other string (or key) in a payload

# Never acceptable in device text: C0 controls (tab and newline apart), DEL, C1 controls, lone
# surrogates, the BOM and the non-characters U+FFFE/U+FFFF.
_UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff"
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE_CHARS}]")  # multi-line text (an alarm message)
_UNSAFE_LINE = re.compile(f"[\t\n{_UNSAFE_CHARS}]")  # everything else


class PayloadError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail[:500]


class TelemetryReading(NamedTuple):
    # A named tuple, not a dataclass: one is made per reading on the ingest hot path.
    ts: dt.datetime
    temperature: float | None
    humidity: float | None
    battery: int | None = None
    seq: int | None = None
    # True when the device sent no time and ``ts`` is when the message arrived (a source's
    # ``time.when_missing: receive``); stored as Reading.ts_received
    ts_received: bool = False


@dataclass(frozen=True)
class DeviceAlarm:
    ts: dt.datetime
    code: str
    severity: str
    active: bool
    message: str


def _reject_constant(name: str) -> Any:
    raise PayloadError(DeadLetterReason.BAD_NUMBER, f"{name} is not a number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # one, not one per message


def check_text(value: str, field: str, *, max_length: int = STRING_MAX, lines: bool = False) -> str:
    """``value`` if it is text a person can read and every database can store, else
    ``PayloadError(BAD_TEXT)`` naming ``field``; ``lines`` allows tab and newline."""
    if len(value) > max_length:
        raise PayloadError(
            DeadLetterReason.BAD_TEXT, f"{field}: {len(value)} characters > {max_length}"
        )
    bad = (_UNSAFE_TEXT if lines else _UNSAFE_LINE).search(value)
    if bad is not None:
        char = bad.group()
        kind = "lone surrogate" if "\ud800" <= char <= "\udfff" else "character"
        raise PayloadError(
            DeadLetterReason.BAD_TEXT, f"{field}: {kind} U+{ord(char):04X} at {bad.start()}"
        )
    return value


def storable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` with every character ``check_text`` refuses (and tab and
    newline) written as an escape: for dead letters and logs about garbage."""
    return _UNSAFE_LINE.sub(lambda bad: ascii(bad.group())[1:-1], text[:limit])[:limit]


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_strings(data: Any, *, lines: tuple[str, ...] = ()) -> None:
    """``check_text`` on every key and string value in ``data`` (decoded JSON), however deep;
    ``lines`` names top-level keys whose values may hold tab and newline."""
    stack: list[tuple[Any, str]] = [(data, "")]
    pop, push = stack.pop, stack.append
    while stack:
        value, path = pop()
        kind = type(value)
        if kind is str:
            check_text(value, path or "payload", lines=path in lines)
        elif kind is dict:
            for key, item in value.items():
                check_text(key, f"key in {path or 'payload'}")
                push((item, _field(path, key)))
        elif kind is list:
            for index, item in enumerate(value):
                push((item, f"{path}[{index}]"))


def decode_json(raw: bytes, *, lines: tuple[str, ...] = ()) -> Any:
    """JSON with clean strings (see the module docstring); ``lines`` as in ``check_strings``."""
    data, suspect = _decode(raw)
    if suspect:
        check_strings(data, lines=lines)
    return data


def _decode(raw: bytes) -> tuple[Any, bool]:
    """Decoded JSON, and whether its strings need ``check_strings``."""
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            DeadLetterReason.TOO_LARGE, f"{len(raw)} bytes > {MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(DeadLetterReason.BAD_ENCODING, str(exc)) from None
    try:
        data = _DECODER.decode(text)
    except PayloadError:
        raise
    except (ValueError, RecursionError, OverflowError) as exc:
        raise PayloadError(DeadLetterReason.BAD_JSON, str(exc)[:200]) from None
    # The strict decoder refuses raw C0 controls in strings and a UTF-8 decode never yields a
    # surrogate: a bad or over-long string needs an escape (a backslash), a raw DEL/C1/BOM/
    # non-character, or a text longer than STRING_MAX. The usual one-reading message has none
    # of them and skips the walk.
    suspect = len(text) > STRING_MAX or "\\" in text or _UNSAFE_LINE.search(text) is not None
    return data, suspect


def _number(obj: dict, key: str, bounds: tuple[float, float], *, required: bool) -> float | None:
    value = obj.get(key)
    if type(value) is float:  # the common case, checked without the general path below
        low, high = bounds
        if low <= value <= high:  # false for NaN; json.loads never yields ±inf here
            return value
    if value is None:
        if required:
            raise PayloadError(DeadLetterReason.MISSING_FIELD, f"{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(DeadLetterReason.BAD_NUMBER, f"{key} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise PayloadError(DeadLetterReason.BAD_NUMBER, f"{key} is too large") from None
    if not math.isfinite(number):
        raise PayloadError(DeadLetterReason.BAD_NUMBER, f"{key} is not finite")
    low, high = bounds
    if not low <= number <= high:
        raise PayloadError(
            DeadLetterReason.OUT_OF_RANGE, f"{key}={number:g} outside {low:g}…{high:g}"
        )
    return number


def parse_timestamp(
    value: Any, *, now: dt.datetime, horizon: dt.timedelta = DEFAULT_HORIZON
) -> dt.datetime:
    """ISO-8601 with an offset, or epoch seconds; within ``horizon`` past and 5 min future."""
    if value is None:
        raise PayloadError(DeadLetterReason.MISSING_FIELD, "ts is missing")
    if type(value) is float or type(value) is int:  # epoch seconds: bounds checked first
        epoch = now.timestamp()
        if epoch - horizon.total_seconds() <= value <= epoch + MAX_FUTURE.total_seconds():
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            if not math.isfinite(float(value)):
                raise ValueError("not finite")
            ts = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        elif isinstance(value, str) and len(value) <= 40:
            ts = dt.datetime.fromisoformat(value)
            if ts.tzinfo is None or ts.utcoffset() is None:
                raise PayloadError(DeadLetterReason.BAD_TIMESTAMP, "ts has no UTC offset")
            ts = ts.astimezone(dt.UTC)
        else:
            raise TypeError
    except PayloadError:
        raise
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError(DeadLetterReason.BAD_TIMESTAMP, f"ts {str(value)[:60]!r}") from None
    if ts > now + MAX_FUTURE:
        raise PayloadError(DeadLetterReason.FUTURE_TIMESTAMP, f"ts {ts.isoformat()} is ahead")
    if ts < now - horizon:
        raise PayloadError(DeadLetterReason.OLD_TIMESTAMP, f"ts {ts.isoformat()} is too old")
    return ts


def _check_id(obj: dict, sensor_id: str) -> None:
    for key in ("sensor_id", "sensor", "id"):
        if key in obj and str(obj[key])[:80] != sensor_id:
            raise PayloadError(
                DeadLetterReason.ID_MISMATCH,
                f"payload {key}={str(obj[key])[:64]!r}, topic sensor {sensor_id!r}",
            )


def _optional_int(obj: dict, key: str, bounds: tuple[float, float]) -> int | None:
    value = _number(obj, key, bounds, required=False)
    return None if value is None else int(round(value))


def parse_telemetry_item(
    obj: Any, *, sensor_id: str, now: dt.datetime, horizon: dt.timedelta = DEFAULT_HORIZON
) -> TelemetryReading:
    if not isinstance(obj, dict):
        raise PayloadError(DeadLetterReason.BAD_SHAPE, f"item is {type(obj).__name__}")
    _check_id(obj, sensor_id)
    ts = parse_timestamp(obj.get("ts"), now=now, horizon=horizon)
    temperature = _number(obj, "temperature", TEMPERATURE_RANGE, required=False)
    humidity = _number(obj, "humidity", HUMIDITY_RANGE, required=False)
    if temperature is None and humidity is None:
        raise PayloadError(DeadLetterReason.MISSING_FIELD, "neither temperature nor humidity")
    battery = _optional_int(obj, "battery", BATTERY_RANGE)
    seq = obj.get("seq")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**63):
        seq = None
    return TelemetryReading(ts, temperature, humidity, battery, seq)


def parse_telemetry(
    raw: bytes, *, sensor_id: str, now: dt.datetime, horizon: dt.timedelta = DEFAULT_HORIZON
) -> tuple[list[TelemetryReading], list[PayloadError]]:
    """Good readings and per-item errors; raises ``PayloadError`` when nothing is usable."""
    data, suspect = _decode(raw)
    if type(data) is dict:  # one reading per message: the common case
        if suspect:
            check_strings(data)
        return [parse_telemetry_item(data, sensor_id=sensor_id, now=now, horizon=horizon)], []
    items = data if isinstance(data, list) else [data]
    if not items:
        raise PayloadError(DeadLetterReason.BAD_SHAPE, "empty array")
    if len(items) > MAX_BATCH:
        raise PayloadError(DeadLetterReason.TOO_LARGE, f"{len(items)} items > {MAX_BATCH}")
    readings: list[TelemetryReading] = []
    errors: list[PayloadError] = []
    for index, item in enumerate(items):
        try:
            if suspect:  # bad text in one item spoils that item only
                check_strings(item)
            readings.append(
                parse_telemetry_item(item, sensor_id=sensor_id, now=now, horizon=horizon)
            )
        except PayloadError as exc:
            if len(items) > 1:
                exc.detail = f"[{index}] {exc.detail}"[:500]
            errors.append(exc)
    if not readings and len(errors) == 1:
        raise errors[0]
    return readings, errors


def parse_alarm(raw: bytes, *, sensor_id: str, now: dt.datetime) -> DeviceAlarm:
    data = decode_json(raw, lines=("message",))
    if not isinstance(data, dict):
        raise PayloadError(DeadLetterReason.BAD_SHAPE, "alarm must be a JSON object")
    code = data.get("code")
    if isinstance(code, str):
        check_text(code, "code", max_length=CODE_MAX)
    severity = data.get("severity", "major")
    if isinstance(severity, str):
        check_text(severity, "severity", max_length=SEVERITY_MAX)
    message = data.get("message", "")
    if isinstance(message, str):
        check_text(message, "message", max_length=MESSAGE_MAX, lines=True)
    _check_id(data, sensor_id)
    ts = parse_timestamp(data.get("ts"), now=now)
    if not isinstance(code, str) or not code.strip():
        raise PayloadError(DeadLetterReason.BAD_ALARM, "code must be a short string")
    if severity not in DEVICE_SEVERITIES:
        raise PayloadError(DeadLetterReason.BAD_ALARM, f"severity {str(severity)[:20]!r}")
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise PayloadError(DeadLetterReason.BAD_ALARM, "active must be true or false")
    if not isinstance(message, str):
        raise PayloadError(DeadLetterReason.BAD_ALARM, "message must be a string")
    return DeviceAlarm(ts, code, severity, active, message)


def parse_status(raw: bytes) -> str:
    """``online`` or ``offline``: plain text, or a JSON string; surrounding spaces ignored."""
    if len(raw) > STATUS_MAX:
        raise PayloadError(DeadLetterReason.TOO_LARGE, f"{len(raw)} bytes for a status")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(DeadLetterReason.BAD_ENCODING, str(exc)) from None
    value = check_text(text.strip(" \t\r\n"), "status", max_length=STATUS_MAX)
    value = value.strip('"').strip().lower()
    if value not in STATUSES:
        raise PayloadError(DeadLetterReason.BAD_STATUS, f"status {value[:20]!r}")
    return value


def dew_point(temperature: float | None, humidity: float | None) -> float | None:
    """Magnus formula (Sonntag 1990 constants), °C; ``None`` without both values."""
    if temperature is None or humidity is None or humidity <= 0:
        return None
    a, b = 17.62, 243.12
    gamma = math.log(humidity / 100.0) + a * temperature / (b + temperature)
    return round(b * gamma / (a - gamma), 2)
