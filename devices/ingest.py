"""The MQTT ingest worker: the network thread parses and queues, one writer thread batches.

Delivery: QoS 1 on a persistent session with manual acknowledgements. A message is acknowledged
only after the transaction holding its rows has committed, so a crash (even SIGKILL) makes the
broker deliver it again; the unique (sensor, ts) constraint turns the redelivery into a no-op.

The hot path is kept lean (one reading per message at thousands of messages a second on a
small machine): paho's receive path hands raw PUBLISH packets to ``on_raw_message``
(``IngestClient``), parsing makes no objects beyond the reading itself, the hand-over to the
writer is a deque, and PostgreSQL gets each batch with one binary COPY into a staging table and
one ``INSERT … SELECT … ON CONFLICT DO NOTHING``; acknowledgements go out in one write per batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import paho.mqtt.client as mqtt
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    reset_queries,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from devices.choices import DeadLetterReason, SensorStatus
from devices.models import DeadLetter, DiscoveredSensor, IngestState, RegistryVersion, Sensor
from devices.mqtt import payloads, topics
from devices.mqtt.client import IngestClient, connect_options, make_client, protocol_version

log = logging.getLogger("lantai.ingest")

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 30.0
SENSOR_CACHE_SECONDS = 300.0  # a safety net: the registry version drops the cache at once
PUSH_EVERY_SECONDS = 1.0
TOUCH_SECONDS = 2.0
LINGER_SECONDS = 0.05  # under load, gather up to this long (≤ flush interval) per batch
STAGING_TABLE = "lantai_reading_in"
# Database connections (psycopg) whose session has the staging table; emptied after any
# database error so that the table is made again (IF NOT EXISTS) rather than assumed.
_staged_connections: weakref.WeakSet = weakref.WeakSet()


class Parsed:
    """What one MQTT message turned into, before it meets the database."""

    __slots__ = (
        "topic",
        "sensor_id",
        "kind",
        "raw",
        "readings",
        "alarm",
        "status",
        "errors",
        "received_at",
        "ack",
    )

    def __init__(
        self,
        topic: str,
        sensor_id: str,
        kind: str,
        raw: bytes,
        readings: list[payloads.TelemetryReading] | None = None,
        alarm: payloads.DeviceAlarm | None = None,
        status: str | None = None,
        errors: list[payloads.PayloadError] | None = None,
        received_at: dt.datetime | None = None,
        ack: int | None = None,
    ) -> None:
        self.topic = topic
        self.sensor_id = sensor_id
        self.kind = kind
        self.raw = raw
        self.readings = readings or []
        self.alarm = alarm
        self.status = status
        self.errors = errors or []
        self.received_at = received_at  # None: the time of the batch that stores it
        self.ack = ack  # QoS 1 message id to acknowledge after commit

    def __repr__(self) -> str:
        return f"Parsed({self.topic!r}, readings={len(self.readings)}, errors={self.errors!r})"


@lru_cache(maxsize=8192)
def _topic(topic: str, topic_prefix: str) -> topics.Topic | None:
    """Topics repeat (a few per sensor): parse each once."""
    return topics.parse_topic(topic, topic_prefix=topic_prefix)


def parse_message(
    topic: str,
    raw: bytes,
    *,
    topic_prefix: str,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
) -> Parsed:
    """Pure: topic + bytes → Parsed. Never raises."""
    try:
        parsed_topic = _topic(topic, topic_prefix)
    except Exception:  # pragma: no cover - a str topic always parses or is None
        parsed_topic = None
    if parsed_topic is None:
        return Parsed(
            topic,
            "",
            "",
            raw,
            errors=[payloads.PayloadError(DeadLetterReason.BAD_TOPIC, topic[:200])],
            received_at=now,
        )
    result = Parsed(topic, parsed_topic.sensor_id, parsed_topic.kind, raw, received_at=now)
    if now is None:
        now = dt.datetime.now(dt.UTC)
    try:
        if parsed_topic.kind == topics.TELEMETRY:
            result.readings, result.errors = payloads.parse_telemetry(
                raw, sensor_id=parsed_topic.sensor_id, now=now, horizon=horizon
            )
        elif parsed_topic.kind == topics.ALARM:
            result.alarm = payloads.parse_alarm(raw, sensor_id=parsed_topic.sensor_id, now=now)
        else:
            result.status = payloads.parse_status(raw)
    except payloads.PayloadError as exc:
        result.errors = [exc]
    except Exception as exc:  # the worker never crashes on input
        result.errors = [payloads.PayloadError(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
    return result


class Counters:
    """Totals since the last heartbeat; updated from the network and writer threads."""

    FIELDS = ("received", "stored", "duplicates", "dead_lettered", "refused")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.FIELDS, 0)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for key, amount in amounts.items():
                self._values[key] += amount

    def take(self) -> dict[str, int]:
        with self._lock:
            values, self._values = self._values, dict.fromkeys(self.FIELDS, 0)
        return values

    def __getattr__(self, key: str) -> int:
        if key in Counters.FIELDS:
            return self._values[key]
        raise AttributeError(key)

    def __repr__(self) -> str:
        return f"Counters({self._values})"


class SensorInfo:
    __slots__ = ("pk", "room_id", "enabled", "temperature_offset", "humidity_offset")

    def __init__(
        self,
        pk: int,
        room_id: int | None,
        enabled: bool,
        temperature_offset: float,
        humidity_offset: float,
    ) -> None:
        self.pk = pk
        self.room_id = room_id
        self.enabled = enabled
        self.temperature_offset = temperature_offset
        self.humidity_offset = humidity_offset


class SensorCache:
    """Registered sensors by sensor id. Unknown ids are looked up again in every batch (a new
    registration counts at once); known ones are kept until the registry version moves (any
    save or delete of a sensor), so a calibration or an enabled flag applies from the next
    batch on."""

    def __init__(self) -> None:
        self._items: dict[str, SensorInfo] = {}
        self._loaded = 0.0
        self._version: int | None = None

    def resolve(self, sensor_ids: set[str]) -> dict[str, SensorInfo]:
        version = RegistryVersion.current()
        if version != self._version or time.monotonic() - self._loaded > SENSOR_CACHE_SECONDS:
            self._items = {}
            self._loaded = time.monotonic()
            self._version = version
        items = self._items
        missing = [sid for sid in sensor_ids if sid not in items]
        if missing:
            for s in Sensor.objects.filter(sensor_id__in=missing).values_list(
                "sensor_id", "pk", "room_id", "enabled", "temperature_offset", "humidity_offset"
            ):
                items[s[0]] = SensorInfo(*s[1:])
        return items

    def clear(self) -> None:
        self._items = {}
        self._version = None


def calibrate(info: SensorInfo, reading: payloads.TelemetryReading) -> tuple:
    temperature, humidity = reading.temperature, reading.humidity
    if temperature is not None:
        temperature = round(temperature + info.temperature_offset, 3)
    if humidity is not None:
        humidity = round(min(100.0, max(0.0, humidity + info.humidity_offset)), 3)
    return temperature, humidity, payloads.dew_point(temperature, humidity)


READING_COLUMNS = "sensor_id, room_id, ts, temperature, humidity, dew_point, battery, seq"


def insert_readings(rows: list[tuple], received_at: dt.datetime) -> int:
    """INSERT … ON CONFLICT DO NOTHING of (sensor pk, room pk, ts, temperature, humidity, dew
    point, battery, seq) rows; returns how many were new.

    PostgreSQL: binary COPY into a session-local staging table, then one INSERT … SELECT (no
    per-row placeholders, no per-value Python adaptation). Others: multi-row VALUES.
    """
    from storage_env.models import Reading

    table = Reading._meta.db_table
    if connection.vendor == "postgresql":
        raw = connection.connection
        # psycopg's own errors become Django's (OperationalError on an outage) as with the ORM
        with connection.wrap_database_errors, raw.cursor() as cursor:
            if raw not in _staged_connections:
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} (sensor_id bigint, "
                    "room_id bigint, ts timestamptz, temperature float8, humidity float8, "
                    "dew_point float8, battery smallint, seq bigint) ON COMMIT DELETE ROWS"
                )
                # the CREATE is undone if this transaction rolls back: count it after commit
                transaction.on_commit(lambda: _staged_connections.add(raw))
            with cursor.copy(
                f"COPY {STAGING_TABLE} ({READING_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int8", "int8", "timestamptz", "float8", "float8", "float8", "int2", "int8"]
                )
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({READING_COLUMNS}, received_at) "  # noqa: S608
                f"SELECT {READING_COLUMNS}, %s FROM {STAGING_TABLE} "
                "ON CONFLICT (sensor_id, ts) DO NOTHING",
                [received_at],
            )
            return cursor.rowcount
    inserted = 0
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = [(*row[:2], adapt(row[2]), *row[3:], received) for row in rows[start:][:500]]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({READING_COLUMNS}, received_at) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (sensor_id, ts) DO NOTHING RETURNING id",
                [value for row in chunk for value in row],
            )
            inserted += len(cursor.fetchall())
    return inserted


def touch_sensors_pg(seen: dict[str, dict[str, Any]], now: dt.datetime) -> None:
    """One statement: last_seen, battery and online status for many sensors (PostgreSQL)."""
    table = Sensor._meta.db_table
    ids = list(seen)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET last_seen = v.ts, "  # noqa: S608
            "battery = COALESCE(v.battery, s.battery), "
            "status_changed_at = CASE WHEN s.status <> 'online' THEN %s "
            "ELSE s.status_changed_at END, status = 'online' "
            "FROM unnest(%s::text[], %s::timestamptz[], %s::smallint[]) AS v(sid, ts, battery) "
            "WHERE s.sensor_id = v.sid AND (s.last_seen IS NULL OR s.last_seen <= v.ts)",
            [
                now,
                ids,
                [seen[i]["ts"] for i in ids],
                [seen[i].get("battery") for i in ids],
            ],
        )


class Writer:
    """Writes batches of Parsed messages in one transaction each; no MQTT inside."""

    def __init__(self, *, on_pushed: Callable[[list[dict]], None] | None = None) -> None:
        self.sensors = SensorCache()
        self.counters = Counters()
        self._last_push: dict[int, float] = {}
        self._touched: dict[str, float] = {}
        self._on_pushed = on_pushed

    def write(self, batch: list[Parsed]) -> None:
        """One atomic flush. Raises DatabaseError on outage (the caller keeps the batch)."""
        now = timezone.now()
        ids = {p.sensor_id for p in batch}
        ids.discard("")
        log_ = math.log
        with transaction.atomic():
            known = self.sensors.resolve(ids)
            rows: list[tuple] = []
            append = rows.append
            dead: list[DeadLetter] = []
            unknown: dict[str, Parsed] = {}
            # sensor id -> (ts, battery, temperature, humidity, dew point, room id) of its
            # newest reading in the batch
            latest: dict[str, tuple] = {}
            statuses: dict[str, str] = {}
            alarms: list[tuple[SensorInfo, Parsed]] = []
            for parsed in batch:
                if parsed.errors:
                    for error in parsed.errors:
                        dead.append(dead_letter(parsed, error.reason, error.detail, now))
                readings = parsed.readings
                if not (readings or parsed.alarm or parsed.status):
                    continue
                sensor_id = parsed.sensor_id
                info = known.get(sensor_id)
                if info is None:
                    unknown[sensor_id] = parsed
                    dead.append(
                        dead_letter(parsed, DeadLetterReason.UNKNOWN_SENSOR, "not registered", now)
                    )
                    continue
                if not info.enabled:
                    dead.append(dead_letter(parsed, DeadLetterReason.DISABLED_SENSOR, "", now))
                    continue
                if parsed.status:
                    statuses[sensor_id] = parsed.status
                if parsed.alarm:
                    alarms.append((info, parsed))
                pk, room_id = info.pk, info.room_id
                t_offset, h_offset = info.temperature_offset, info.humidity_offset
                for ts, temperature, humidity, battery, seq in readings:
                    # calibrate() inlined: this loop runs once per reading
                    if temperature is not None:
                        temperature = round(temperature + t_offset, 3)
                    if humidity is not None:
                        humidity = round(min(100.0, max(0.0, humidity + h_offset)), 3)
                        dew = (
                            _dew_point(temperature, humidity, log_)
                            if temperature is not None and humidity > 0
                            else None
                        )
                    else:
                        dew = None
                    append((pk, room_id, ts, temperature, humidity, dew, battery, seq))
                    newest = latest.get(sensor_id)
                    if newest is None or ts >= newest[0]:
                        if battery is None and newest is not None:
                            battery = newest[1]
                        latest[sensor_id] = (ts, battery, temperature, humidity, dew, room_id)
            stored = insert_readings(rows, now) if rows else 0
            if dead:
                DeadLetter.objects.bulk_create(dead)
            for sensor_id, parsed in unknown.items():
                record_discovered(sensor_id, parsed, now)
            self._touch_sensors(latest, statuses, now)
            for info, parsed in alarms:
                self._device_alarm(info, parsed)
            self.counters.add(stored=stored, duplicates=len(rows) - stored, dead_lettered=len(dead))
            if latest:
                self._push(latest)

    def _touch_sensors(
        self, latest: dict[str, tuple], statuses: dict[str, str], now: dt.datetime
    ) -> None:
        """last_seen/battery/online, written at most every TOUCH_SECONDS per sensor (offline
        detection works in multiples of the reporting interval, so this loses nothing)."""
        clock = time.monotonic()
        touched = self._touched
        due: dict[str, dict[str, Any]] = {}
        for sensor_id, newest in latest.items():
            if sensor_id in statuses or clock - touched.get(sensor_id, -TOUCH_SECONDS) < (
                TOUCH_SECONDS
            ):
                continue
            touched[sensor_id] = clock
            due[sensor_id] = {"ts": newest[0]}
            if newest[1] is not None:
                due[sensor_id]["battery"] = newest[1]
        if due and connection.vendor == "postgresql":
            touch_sensors_pg(due, now)
            due = {}
        for sensor_id, seen in due.items():
            changes: dict[str, Any] = {"last_seen": seen["ts"]}
            if "battery" in seen:
                changes["battery"] = seen["battery"]
            Sensor.objects.filter(sensor_id=sensor_id).exclude(last_seen__gt=seen["ts"]).update(
                **changes
            )
            Sensor.objects.filter(sensor_id=sensor_id).exclude(status=SensorStatus.ONLINE).update(
                status=SensorStatus.ONLINE, status_changed_at=now
            )
        for sensor_id, status in statuses.items():
            touched.pop(sensor_id, None)
            if sensor_id in latest:
                Sensor.objects.filter(sensor_id=sensor_id).exclude(
                    last_seen__gt=latest[sensor_id][0]
                ).update(last_seen=latest[sensor_id][0])
            Sensor.objects.filter(sensor_id=sensor_id).exclude(status=status).update(
                status=status, status_changed_at=now
            )

    def _device_alarm(self, info: SensorInfo, parsed: Parsed) -> None:
        from storage_env.services import apply_device_alarm

        sensor = Sensor.objects.get(pk=info.pk)
        alarm = parsed.alarm
        assert alarm is not None
        apply_device_alarm(
            sensor=sensor,
            code=alarm.code,
            severity=alarm.severity,
            active=alarm.active,
            message=alarm.message,
            now=alarm.ts,
        )

    def _push(self, latest: dict[str, tuple]) -> None:
        from storage_env.services import push_readings

        by_room: dict[int, tuple[str, tuple]] = {}
        for sensor_id, newest in latest.items():
            room_id = newest[5]
            if room_id is not None and (
                room_id not in by_room or newest[0] >= by_room[room_id][1][0]
            ):
                by_room[room_id] = (sensor_id, newest)
        clock = time.monotonic()
        due = []
        for room_id, (
            sensor_id,
            (ts, _battery, temperature, humidity, dew, _room),
        ) in by_room.items():
            if clock - self._last_push.get(room_id, 0.0) < PUSH_EVERY_SECONDS:
                continue
            self._last_push[room_id] = clock
            due.append(
                {
                    "room_id": room_id,
                    "sensor_id": sensor_id,
                    "ts": ts.isoformat(),
                    "temperature": temperature,
                    "humidity": humidity,
                    "dew_point": dew,
                }
            )
        push_readings(due)


def _dew_point(temperature: float, humidity: float, log=math.log) -> float:
    """payloads.dew_point for known-good values (Magnus, Sonntag 1990), inlined for speed."""
    gamma = log(humidity / 100.0) + 17.62 * temperature / (243.12 + temperature)
    return round(243.12 * gamma / (17.62 - gamma), 2)


def dead_letter(
    parsed: Parsed, reason: str, detail: str, now: dt.datetime | None = None
) -> DeadLetter:
    return DeadLetter(
        received_at=parsed.received_at or now or timezone.now(),
        topic=parsed.topic[:255],
        sensor_id=parsed.sensor_id[:64],
        payload=bytes(parsed.raw[: DeadLetter.PAYLOAD_KEEP_BYTES]),
        payload_size=len(parsed.raw),
        reason=reason,
        detail=detail[:500],
    )


def record_discovered(sensor_id: str, parsed: Parsed, now: dt.datetime) -> None:
    preview = parsed.raw[:500].decode("utf-8", errors="replace")
    updated = DiscoveredSensor.objects.filter(sensor_id=sensor_id).update(
        last_seen=now,
        message_count=F("message_count") + 1,
        last_topic=parsed.topic[:255],
        last_payload=preview,
    )
    if not updated:
        DiscoveredSensor.objects.bulk_create(
            [
                DiscoveredSensor(
                    sensor_id=sensor_id,
                    first_seen=now,
                    last_seen=now,
                    message_count=1,
                    last_topic=parsed.topic[:255],
                    last_payload=preview,
                )
            ],
            ignore_conflicts=True,
        )


class IngestWorker:
    """Owns the MQTT client, the bounded hand-over queue and the writer thread."""

    def __init__(
        self,
        *,
        client_id: str,
        topic_prefix: str | None = None,
        batch_size: int = 5000,
        flush_interval: float = 0.2,
        linger: float = LINGER_SECONDS,
        buffer_limit: int = 50000,
        horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
    ) -> None:
        self.client_id = client_id
        self.topic_prefix = topic_prefix or topics.prefix()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.linger = min(linger, flush_interval)
        self.buffer_limit = buffer_limit
        self.horizon = horizon
        # Network thread appends, writer thread pops: a deque needs no lock for that.
        self.queue: deque[Parsed] = deque()
        self._wake = threading.Event()
        self._writer_waiting = False
        self.writer = Writer()
        self.stopping = threading.Event()
        self.accepting = True
        self.connected = False
        self.db_ok = True
        self.last_error = ""
        self.pending: list[Parsed] = []  # taken from the queue, not yet committed
        self.refused_since_reconnect = False
        self._thread: threading.Thread | None = None
        self.client: mqtt.Client | None = None

    # --- MQTT side (network thread) ---------------------------------------------------------
    def on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        self.connected = True
        client.subscribe(topics.subscriptions(topic_prefix=self.topic_prefix))
        log.info("MQTT connected (session present: %s)", flags.session_present)

    def on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self.connected = False
        if not self.stopping.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        """paho's message callback (QoS 2, or a client without the raw fast path)."""
        self.on_raw_message(message.topic, message.payload, message.mid, message.qos)

    def on_raw_message(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        """Parse and queue; never touches the database, never raises."""
        if not self.accepting:
            return  # not acknowledged: the broker delivers it again after the restart
        if len(self.queue) + len(self.pending) >= self.buffer_limit:
            self._refuse()
            return
        try:
            parsed = parse_message(
                topic, payload, topic_prefix=self.topic_prefix, horizon=self.horizon
            )
        except Exception as exc:  # pragma: no cover - parse_message never raises
            parsed = Parsed(topic, "", "", payload)
            parsed.errors = [payloads.PayloadError(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
        if qos:
            parsed.ack = mid
        self.queue.append(parsed)
        if self._writer_waiting:
            self._wake.set()

    def _refuse(self) -> None:
        """Not acknowledged, so the broker keeps it for our session; once the backlog has
        drained the writer forces a reconnect and the broker delivers it again."""
        self.writer.counters.add(received=1, refused=1)
        self.refused_since_reconnect = True

    def _redeliver_refused(self) -> None:
        if not self.refused_since_reconnect or self.pending_count() > self.buffer_limit // 2:
            return
        self.refused_since_reconnect = False
        # The acknowledgements just queued must reach the broker first: cut the connection
        # before paho's network thread has written them and the broker redelivers those
        # messages too — after every drain, for ever (found by the database-outage test).
        out = getattr(self.client, "_out_packet", None)  # paho 2.x's queue of unsent packets
        deadline = time.monotonic() + 2.0
        while out and time.monotonic() < deadline:
            time.sleep(0.005)
        get_socket = getattr(self.client, "socket", None)
        sock = get_socket() if get_socket is not None else None
        if sock is not None:
            log.warning("backlog drained: reconnecting so the broker redelivers refused messages")
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # paho reconnects with its backoff

    def pending_count(self) -> int:
        """Messages taken but not yet committed (queued or in the writer's hands)."""
        return len(self.queue) + len(self.pending)

    # --- writer thread ----------------------------------------------------------------------
    def _wait_for_messages(self, timeout: float) -> bool:
        if self.queue:
            return True
        self._writer_waiting = True
        try:
            if not self.queue:  # checked again after announcing: no lost wake-up
                self._wake.wait(timeout)
            self._wake.clear()
        finally:
            self._writer_waiting = False
        return bool(self.queue)

    def _take(self) -> None:
        """Move queued messages into ``pending``. A trickle is flushed at once; under load the
        batch gathers for up to ``linger`` seconds (or ``batch_size`` messages)."""
        if not self._wait_for_messages(self.flush_interval):
            return
        queue, pending, limit = self.queue, self.pending, self.batch_size
        taken = len(pending)
        deadline = time.monotonic() + self.linger
        while True:
            while queue and len(pending) < limit:
                pending.append(queue.popleft())
            if len(pending) >= limit or time.monotonic() >= deadline:
                break
            if len(pending) - taken < 50 and not queue:
                # idle after a few messages: no reason to wait
                time.sleep(0.002)
                if not queue:
                    break
            else:
                time.sleep(0.005)
        self.writer.counters.add(received=len(pending) - taken)

    def flush(self) -> bool:
        """Write ``pending``; on success acknowledge and clear it. False on a database error."""
        if not self.pending:
            return True
        batch = self.pending[: self.batch_size]
        try:
            self.writer.write(batch)
        except (OperationalError, InterfaceError, DatabaseError) as exc:
            self._db_failed(exc)
            return False
        self.db_ok = True
        reset_queries()  # a long-running process: no growing query log, even with DEBUG on
        del self.pending[: len(batch)]
        self._ack(batch)
        self._redeliver_refused()
        return True

    def _db_failed(self, exc: Exception) -> None:
        if self.db_ok:
            log.error("database unavailable, buffering: %s", exc)
        self.db_ok = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.writer.sensors.clear()
        _staged_connections.clear()
        with contextlib.suppress(Exception):  # the connection is already broken
            connection.close()

    def _ack(self, batch: list[Parsed]) -> None:
        client = self.client
        if client is None:
            return
        mids = [parsed.ack for parsed in batch if parsed.ack is not None]
        ack_many = getattr(client, "ack_many", None)
        if ack_many is not None:
            ack_many(mids)
        else:
            for mid in mids:
                client.ack(mid, 1)

    def heartbeat(self) -> None:
        counters = self.writer.counters.take()
        try:
            close_old_connections()
            now = timezone.now()
            updated = IngestState.objects.filter(client_id=self.client_id).update(
                heartbeat_at=now,
                connected=self.connected,
                buffered=self.pending_count(),
                last_error=self.last_error if not self.db_ok else "",
                pid=os.getpid(),
                **{key: F(key) + value for key, value in counters.items()},
            )
            if not updated:
                IngestState.objects.update_or_create(
                    client_id=self.client_id,
                    defaults=dict(
                        heartbeat_at=now,
                        started_at=now,
                        connected=self.connected,
                        buffered=self.pending_count(),
                        pid=os.getpid(),
                        **counters,
                    ),
                )
        except DatabaseError as exc:
            self.writer.counters.add(**counters)  # keep them for the next heartbeat
            self._db_failed(exc)

    def run_writer(self) -> None:
        last_beat = 0.0
        retry_at = 0.0
        while True:
            stopping = self.stopping.is_set()
            if (not stopping or self.queue) and len(self.pending) < self.batch_size:
                self._take()
            now = time.monotonic()
            if self.pending and now >= retry_at and not self.flush():
                retry_at = time.monotonic() + 1.0
            if now - last_beat >= HEARTBEAT_SECONDS:
                self.heartbeat()
                last_beat = now
            if stopping and not self.queue and (not self.pending or not self.db_ok):
                break
            if self.pending and not self.db_ok:
                time.sleep(0.05)
        self.heartbeat()
        connection.close()

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        protocol = protocol_version()
        self.client = make_client(
            self.client_id,
            clean_start=False,
            protocol=protocol,
            manual_ack=True,
            client_class=IngestClient if IngestClient.supports_fast_path() else mqtt.Client,
        )
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_message = self.on_message
        if isinstance(self.client, IngestClient):
            self.client.on_raw_message = self.on_raw_message
        self.heartbeat()
        self._thread = threading.Thread(target=self.run_writer, name="ingest-writer", daemon=True)
        self._thread.start()
        from devices.mqtt.client import broker_config

        config = broker_config()
        self.client.connect_async(
            config.host,
            config.port,
            keepalive=30,
            **connect_options(self.client, clean_start=False),
        )
        self.client.loop_start()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop taking messages, flush and acknowledge what was taken, then disconnect."""
        self.accepting = False
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
