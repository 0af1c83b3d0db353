"""The MQTT ingest worker: the network thread parses and queues, one writer thread batches.

Delivery: QoS 1 on a persistent session with manual acknowledgements. A message is acknowledged
only after the transaction holding its rows has committed, so a crash (even SIGKILL) makes the
broker deliver it again; the unique (sensor, ts) constraint turns the redelivery into a no-op.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from devices.models import DeadLetter, DiscoveredSensor, IngestState, Sensor
from devices.mqtt import payloads, topics
from devices.mqtt.client import connect_options, make_client, protocol_version

log = logging.getLogger("lantai.ingest")

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 30.0
SENSOR_CACHE_SECONDS = 30.0
PUSH_EVERY_SECONDS = 1.0
TOUCH_SECONDS = 2.0


@dataclass
class Parsed:
    """What one MQTT message turned into, before it meets the database."""

    topic: str
    sensor_id: str
    kind: str
    raw: bytes
    readings: list[payloads.TelemetryReading] = field(default_factory=list)
    alarm: payloads.DeviceAlarm | None = None
    status: str | None = None
    errors: list[payloads.PayloadError] = field(default_factory=list)
    received_at: dt.datetime = field(default_factory=timezone.now)
    ack: tuple[int, int] | None = None  # (mid, qos) to acknowledge after commit


def parse_message(
    topic: str,
    raw: bytes,
    *,
    topic_prefix: str,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
) -> Parsed:
    """Pure: topic + bytes → Parsed. Never raises."""
    now = now or timezone.now()
    parsed_topic = topics.parse_topic(topic, topic_prefix=topic_prefix)
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


@dataclass(frozen=True)
class SensorInfo:
    pk: int
    room_id: int | None
    enabled: bool
    temperature_offset: float
    humidity_offset: float


class SensorCache:
    def __init__(self) -> None:
        self._items: dict[str, SensorInfo] = {}
        self._loaded = 0.0

    def resolve(self, sensor_ids: set[str]) -> dict[str, SensorInfo]:
        if time.monotonic() - self._loaded > SENSOR_CACHE_SECONDS:
            self._items = {}
            self._loaded = time.monotonic()
        missing = sensor_ids - set(self._items)
        if missing:
            for s in Sensor.objects.filter(sensor_id__in=missing).values(
                "pk", "sensor_id", "room_id", "enabled", "temperature_offset", "humidity_offset"
            ):
                self._items[s["sensor_id"]] = SensorInfo(
                    s["pk"],
                    s["room_id"],
                    s["enabled"],
                    s["temperature_offset"],
                    s["humidity_offset"],
                )
        return {sid: self._items[sid] for sid in sensor_ids if sid in self._items}

    def clear(self) -> None:
        self._items = {}


def calibrate(info: SensorInfo, reading: payloads.TelemetryReading) -> tuple:
    temperature, humidity = reading.temperature, reading.humidity
    if temperature is not None:
        temperature = round(temperature + info.temperature_offset, 3)
    if humidity is not None:
        humidity = round(min(100.0, max(0.0, humidity + info.humidity_offset)), 3)
    return temperature, humidity, payloads.dew_point(temperature, humidity)


def insert_readings(rows: list[tuple]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows were new.

    PostgreSQL gets one statement over ``unnest`` of nine arrays (no per-row placeholders to
    convert); other databases a multi-row VALUES list.
    """
    from storage_env.models import Reading

    table = Reading._meta.db_table
    columns = "sensor_id, room_id, ts, temperature, humidity, dew_point, battery, seq, received_at"
    inserted = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns_of = list(zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608
                "SELECT s, r, to_timestamp(t), te, hu, dp, b, q, %s FROM unnest("
                "%s::bigint[], %s::bigint[], %s::float8[], %s::float8[], %s::float8[], "
                "%s::float8[], %s::smallint[], %s::bigint[]) AS v(s, r, t, te, hu, dp, b, q) "
                "ON CONFLICT (sensor_id, ts) DO NOTHING RETURNING id",
                [
                    rows[0][8],
                    list(columns_of[0]),
                    list(columns_of[1]),
                    [ts.timestamp() for ts in columns_of[2]],
                    *(list(column) for column in columns_of[3:8]),
                ],
            )
            return len(cursor.fetchall())
        adapt = connection.ops.adapt_datetimefield_value
        rows = [(*row[:2], adapt(row[2]), *row[3:8], adapt(row[8])) for row in rows]
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = [value for row in chunk for value in row]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} "  # noqa: S608
                "ON CONFLICT (sensor_id, ts) DO NOTHING RETURNING id",
                params,
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
        ids = {p.sensor_id for p in batch if p.sensor_id}
        with transaction.atomic():
            known = self.sensors.resolve(ids)
            rows: list[tuple] = []
            dead: list[DeadLetter] = []
            unknown: dict[str, Parsed] = {}
            touched: dict[str, dict[str, Any]] = {}
            latest_by_room: dict[int, tuple] = {}
            statuses: dict[str, str] = {}
            alarms: list[tuple[SensorInfo, Parsed]] = []
            for parsed in batch:
                for error in parsed.errors:
                    dead.append(dead_letter(parsed, error.reason, error.detail))
                if not (parsed.readings or parsed.alarm or parsed.status):
                    continue
                info = known.get(parsed.sensor_id)
                if info is None:
                    unknown[parsed.sensor_id] = parsed
                    dead.append(
                        dead_letter(parsed, DeadLetterReason.UNKNOWN_SENSOR, "not registered")
                    )
                    continue
                if not info.enabled:
                    dead.append(dead_letter(parsed, DeadLetterReason.DISABLED_SENSOR, ""))
                    continue
                if parsed.status:
                    statuses[parsed.sensor_id] = parsed.status
                if parsed.alarm:
                    alarms.append((info, parsed))
                for reading in parsed.readings:
                    temperature, humidity, dew = calibrate(info, reading)
                    rows.append(
                        (
                            info.pk,
                            info.room_id,
                            reading.ts,
                            temperature,
                            humidity,
                            dew,
                            reading.battery,
                            reading.seq,
                            now,
                        )
                    )
                    seen = touched.setdefault(parsed.sensor_id, {"ts": reading.ts})
                    if reading.ts >= seen["ts"]:
                        seen["ts"] = reading.ts
                        if reading.battery is not None:
                            seen["battery"] = reading.battery
                        if info.room_id is not None:
                            latest_by_room[info.room_id] = (
                                parsed.sensor_id,
                                reading.ts,
                                temperature,
                                humidity,
                                dew,
                            )
            stored = insert_readings(rows) if rows else 0
            if dead:
                DeadLetter.objects.bulk_create(dead)
            for sensor_id, parsed in unknown.items():
                record_discovered(sensor_id, parsed, now)
            self._touch_sensors(touched, statuses, now)
            for info, parsed in alarms:
                self._device_alarm(info, parsed)
            self.counters.add(stored=stored, duplicates=len(rows) - stored, dead_lettered=len(dead))
            if latest_by_room:
                self._push(latest_by_room)

    def _touch_sensors(
        self, touched: dict[str, dict[str, Any]], statuses: dict[str, str], now: dt.datetime
    ) -> None:
        """last_seen/battery/online, written at most every TOUCH_SECONDS per sensor (offline
        detection works in multiples of the reporting interval, so this loses nothing)."""
        clock = time.monotonic()
        due = {
            sensor_id: seen
            for sensor_id, seen in touched.items()
            if sensor_id not in statuses
            and clock - self._touched.get(sensor_id, -TOUCH_SECONDS) >= TOUCH_SECONDS
        }
        for sensor_id in due:
            self._touched[sensor_id] = clock
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
            self._touched.pop(sensor_id, None)
            if sensor_id in touched:
                Sensor.objects.filter(sensor_id=sensor_id).exclude(
                    last_seen__gt=touched[sensor_id]["ts"]
                ).update(last_seen=touched[sensor_id]["ts"])
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

    def _push(self, latest_by_room: dict[int, tuple]) -> None:
        from storage_env.services import push_readings

        now = time.monotonic()
        due = []
        for room_id, (sensor_id, ts, temperature, humidity, dew) in latest_by_room.items():
            if now - self._last_push.get(room_id, 0.0) < PUSH_EVERY_SECONDS:
                continue
            self._last_push[room_id] = now
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


def dead_letter(parsed: Parsed, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        received_at=parsed.received_at,
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
    """Owns the MQTT client, the bounded queue and the writer thread."""

    def __init__(
        self,
        *,
        client_id: str,
        topic_prefix: str | None = None,
        batch_size: int = 2000,
        flush_interval: float = 0.2,
        queue_size: int = 20000,
        buffer_limit: int = 50000,
        horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
    ) -> None:
        self.client_id = client_id
        self.topic_prefix = topic_prefix or topics.prefix()
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.buffer_limit = buffer_limit
        self.horizon = horizon
        self.queue: queue.Queue[Parsed] = queue.Queue(maxsize=queue_size)
        self.writer = Writer()
        self.stopping = threading.Event()
        self.accepting = threading.Event()
        self.accepting.set()
        self.connected = False
        self.db_ok = True
        self.last_error = ""
        self.pending: list[Parsed] = []  # taken from the queue, not yet committed
        self.refused_since_reconnect = False
        self._held = 0
        self._held_lock = threading.Lock()
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
        """Parse and queue; never touches the database, never raises."""
        ack = (message.mid, message.qos) if message.qos > 0 else None
        if not self.accepting.is_set():
            return  # not acknowledged: the broker delivers it again after the restart
        try:
            parsed = parse_message(
                message.topic, message.payload, topic_prefix=self.topic_prefix, horizon=self.horizon
            )
        except Exception as exc:  # pragma: no cover - parse_message never raises
            parsed = Parsed(message.topic, "", "", message.payload)
            parsed.errors = [payloads.PayloadError(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
        parsed.ack = ack
        self.writer.counters.add(received=1)
        with self._held_lock:
            if self._held >= self.buffer_limit:
                full = True
            else:
                full = False
                self._held += 1
        if full:
            self._refuse()
            return
        try:
            self.queue.put(parsed, timeout=1.0)
        except queue.Full:
            with self._held_lock:
                self._held -= 1
            self._refuse()

    def _refuse(self) -> None:
        """Not acknowledged, so the broker keeps it for our session; once the backlog has
        drained the writer forces a reconnect and the broker delivers it again."""
        self.writer.counters.add(refused=1)
        self.refused_since_reconnect = True

    def _redeliver_refused(self) -> None:
        if not self.refused_since_reconnect or self.pending_count() > self.buffer_limit // 2:
            return
        self.refused_since_reconnect = False
        get_socket = getattr(self.client, "socket", None)
        sock = get_socket() if get_socket is not None else None
        if sock is not None:
            log.warning("backlog drained: reconnecting so the broker redelivers refused messages")
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # paho reconnects with its backoff

    def pending_count(self) -> int:
        """Messages taken but not yet committed (queued or in the writer's hands)."""
        return self._held

    # --- writer thread ----------------------------------------------------------------------
    def _take(self) -> None:
        """Move queued messages into ``pending``: wait for the first, then drain quickly."""
        try:
            first = self.queue.get(timeout=self.flush_interval)
        except queue.Empty:
            return
        self.pending.append(first)
        deadline = time.monotonic() + self.flush_interval
        while len(self.pending) < self.batch_size:
            try:
                self.pending.append(self.queue.get_nowait())
            except queue.Empty:
                # Group commit: flush now if idle, else wait briefly for more (≤ flush_interval).
                if len(self.pending) < 50 or time.monotonic() >= deadline:
                    return
                try:
                    self.pending.append(self.queue.get(timeout=0.005))
                except queue.Empty:
                    return

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
        with self._held_lock:
            self._held -= len(batch)
        self._ack(batch)
        self._redeliver_refused()
        return True

    def _db_failed(self, exc: Exception) -> None:
        if self.db_ok:
            log.error("database unavailable, buffering: %s", exc)
        self.db_ok = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.writer.sensors.clear()
        with contextlib.suppress(Exception):  # the connection is already broken
            connection.close()

    def _ack(self, batch: list[Parsed]) -> None:
        client = self.client
        if client is None:
            return
        for parsed in batch:
            if parsed.ack is not None:
                client.ack(*parsed.ack)

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
            if (not stopping or not self.queue.empty()) and len(self.pending) < self.batch_size:
                self._take()
            now = time.monotonic()
            if self.pending and now >= retry_at and not self.flush():
                retry_at = time.monotonic() + 1.0
            if now - last_beat >= HEARTBEAT_SECONDS:
                self.heartbeat()
                last_beat = now
            if stopping and self.queue.empty() and (not self.pending or not self.db_ok):
                break
            if self.pending and not self.db_ok:
                time.sleep(0.05)
        self.heartbeat()
        connection.close()

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        protocol = protocol_version()
        self.client = make_client(
            self.client_id, clean_start=False, protocol=protocol, manual_ack=True
        )
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_message = self.on_message
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
        self.accepting.clear()
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
