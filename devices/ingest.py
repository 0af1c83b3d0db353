"""The MQTT ingest worker: the network thread parses and queues, one writer thread batches.

Delivery: QoS 1 on a persistent session with manual acknowledgements. A message is acknowledged
only after the transaction holding its rows has committed, so a crash (even SIGKILL) makes the
broker deliver it again; the unique (sensor, ts) constraint turns the redelivery into a no-op.

The hot path is kept lean (one reading per message at thousands of messages a second on a
small machine): paho's receive path hands raw PUBLISH packets to ``on_raw_message``
(``IngestClient``), parsing makes no objects beyond the reading itself, the hand-over to the
writer is a deque, and PostgreSQL gets each batch with one binary COPY into a staging table and
one ``INSERT … SELECT … ON CONFLICT DO NOTHING``; acknowledgements go out in one write per batch.

Bad input never stops the stream. Payloads are checked at the edge (``payloads``: shapes,
numbers, every string); a message that passes and is still refused by the database for its data
(any error but an outage) is found by splitting its batch in halves, dead-lettered with the
database's reason and acknowledged, while the rest of the batch is stored. An outage
(``is_outage``) keeps the batch and retries. A writer thread that dies anyway is reported
(``IngestWorker.problem``) and ``mqtt_ingest`` exits non-zero.

Several workers (``MQTT_SHARED_GROUP``): see ``IngestWorker``.
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
from collections import deque
from functools import lru_cache
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
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

from core import hooks
from devices.choices import DeadLetterReason, SensorStatus
from devices.models import (
    DeadLetter,
    DiscoveredSensor,
    IngestState,
    RegistryVersion,
    Sensor,
    SensorSource,
    SourceSample,
)
from devices.mqtt import payloads, sources, topics
from devices.mqtt.client import (
    IngestClient,
    broker_config,
    connect_options,
    ingest_client_class,
    make_client,
    protocol_version,
)

log = logging.getLogger("lantai.ingest")

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 30.0
SENSOR_CACHE_SECONDS = 300.0  # a safety net: the registry version drops the cache at once
PUSH_EVERY_SECONDS = 1.0
TOUCH_SECONDS = 2.0
SOURCES_POLL_SECONDS = 1.0  # how soon a changed sensor source reaches a running worker
SAMPLE_SECONDS = 2.0  # a source's last messages are written at most this often
LINGER_SECONDS = 0.05  # under load, gather up to this long (≤ flush interval) per batch
# SQLSTATE classes of errors about the database, not the values in a batch: connection (08),
# invalid transaction state (25), transaction rollback (40: serialisation, deadlock), syntax or
# access rule (42: a missing table or column after a botched migration, a revoked privilege),
# resources (53), object state (55: lock not available), operator intervention (57: shutdown,
# statement timeout), system (58), configuration (F0), internal (XX). Retried like an outage,
# never dead-lettered message by message.
DATABASE_FAULT_CLASSES = frozenset({"08", "25", "40", "42", "53", "55", "57", "58", "F0", "XX"})
MID_BITS = 16  # Parsed.ack = packet id | connection generation << MID_BITS


def is_outage(exc: BaseException) -> bool:
    """True when the database is at fault (keep the batch, retry); False when it refused the
    batch for its data (DataError, IntegrityError, a value psycopg cannot adapt, an encoding
    error…), which ``IngestWorker.flush`` isolates message by message."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DatabaseError):
        sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
        return sqlstate[:2] in DATABASE_FAULT_CLASSES
    return False


class Parsed:
    """What one MQTT message turned into, before it meets the database."""

    __slots__ = (
        "topic",
        "sensor_id",
        "kind",
        "raw",
        "readings",
        "status",
        "errors",
        "received_at",
        "ack",
        "alarms",
        "source",
        "source_pk",
        "ignored",
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
        self.status = status
        self.errors = errors or []
        self.received_at = received_at  # None: the time of the batch that stores it
        self.ack = ack  # QoS 1 message id to acknowledge after commit
        self.alarms = [alarm] if alarm is not None else []
        self.source = ""  # the sensor source it came through ("" for Lantai's contract)
        self.source_pk: int | None = None
        self.ignored = False  # nothing to store (a disabled source, a bridge topic): ack only

    @property
    def alarm(self) -> payloads.DeviceAlarm | None:
        """The first device alarm (Lantai's contract sends one per message)."""
        return self.alarms[0] if self.alarms else None

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
    source_set: sources.SourceSet | None = None,
) -> Parsed:
    """Pure: topic + bytes → Parsed. Never raises. Lantai's own topics first (the fast path);
    any other topic goes to the sensor source whose filter it matches, if any."""
    try:
        parsed_topic = _topic(topic, topic_prefix)
    except Exception:  # pragma: no cover - a str topic always parses or is None
        parsed_topic = None
    if parsed_topic is None and source_set:
        spec = source_set.source_of(topic)
        if spec is not None:
            return parse_source_message(spec, source_set, topic, raw, now=now, horizon=horizon)
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
            result.alarms = [payloads.parse_alarm(raw, sensor_id=parsed_topic.sensor_id, now=now)]
        else:
            result.status = payloads.parse_status(raw)
    except payloads.PayloadError as exc:
        result.errors = [exc]
    except Exception as exc:  # the worker never crashes on input
        result.errors = [payloads.PayloadError(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
    return result


def parse_source_message(
    spec: sources.SourceSpec,
    source_set: sources.SourceSet,
    topic: str,
    raw: bytes,
    *,
    now: dt.datetime | None = None,
    horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
) -> Parsed:
    """A message on a sensor source's topics, through its mapping, as a Parsed. A disabled
    source's messages are only kept as samples (``ignored``)."""
    received = source_set.receipt_time(now or dt.datetime.now(dt.UTC))
    parsed = Parsed(topic, "", "", raw, received_at=now)
    parsed.source = spec.name
    parsed.source_pk = spec.pk
    if not spec.enabled:
        parsed.ignored = True
        return parsed
    result = spec.parse(topic, raw, now=received, horizon=horizon)
    if result is None:  # pragma: no cover - source_of matched this topic
        parsed.errors = [payloads.PayloadError(DeadLetterReason.BAD_TOPIC, topic[:200])]
        return parsed
    parsed.sensor_id = result.sensor_id
    parsed.kind = "source"
    parsed.readings = result.readings
    parsed.alarms = result.alarms
    parsed.status = result.status
    parsed.errors = result.errors
    parsed.ignored = result.ignored
    return parsed


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


# Readings are stored by storage_env (above devices): its ``ingest_sink.insert_readings``, the
# COPY fast path, registered on this hook in ``StorageEnvConfig.ready()``.
insert_readings = hooks.insert_readings


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

    def __init__(self) -> None:
        self.sensors = SensorCache()
        self.counters = Counters()
        self._last_push: dict[int, float] = {}
        self._touched: dict[str, float] = {}
        # (sensor id, alarm code) → last state passed on, for sources: a device that repeats
        # its whole state ({"water_leak": false} in every message) clears nothing each time
        self._source_alarms: dict[tuple[str, str], bool] = {}
        # source pk → {topic: (received_at, payload)}: the last messages seen, for its page
        self._samples: dict[int, dict[str, tuple[dt.datetime, bytes]]] = {}
        self._samples_dirty: set[int] = set()
        self._samples_written = 0.0

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
                if parsed.source_pk is not None:
                    self._sample(parsed, now)
                if parsed.errors:
                    for error in parsed.errors:
                        dead.append(dead_letter(parsed, error.reason, error.detail, now))
                readings = parsed.readings
                if not (readings or parsed.alarms or parsed.status):
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
                if parsed.alarms:
                    alarms.append((info, parsed))
                pk, room_id = info.pk, info.room_id
                t_offset, h_offset = info.temperature_offset, info.humidity_offset
                for ts, temperature, humidity, battery, seq, ts_received in readings:
                    # calibration offsets; humidity kept within 0…100 %RH
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
                    append((pk, room_id, ts, temperature, humidity, dew, battery, seq, ts_received))
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
            self._write_samples()
            self.counters.add(stored=stored, duplicates=len(rows) - stored, dead_lettered=len(dead))
            if latest:
                self._push(latest)

    def refuse(self, parsed: Parsed, exc: BaseException) -> None:
        """Dead-letter one message the database refused for its data (own transaction)."""
        detail = f"database refused: {type(exc).__name__}: {exc}"
        with transaction.atomic():
            DeadLetter.objects.bulk_create(
                [dead_letter(parsed, DeadLetterReason.DB_REFUSED, detail, timezone.now())]
            )
        self.counters.add(dead_lettered=1)

    def forget(self, batch: list[Parsed]) -> None:
        """After a rolled-back write: its sensors' last_seen is due again with the next one."""
        for parsed in batch:
            self._touched.pop(parsed.sensor_id, None)

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
        sensor: Sensor | None = None
        for alarm in parsed.alarms:
            if parsed.source:
                key = (parsed.sensor_id, alarm.code)
                # a repeated "not active" from a source that sends its whole state each time
                if not alarm.active and self._source_alarms.get(key) is False:
                    continue
                self._source_alarms[key] = alarm.active
            if sensor is None:
                sensor = Sensor.objects.get(pk=info.pk)
            hooks.device_alarm(
                sensor=sensor,
                code=alarm.code,
                severity=alarm.severity,
                active=alarm.active,
                message=alarm.message
                or (f"{alarm.code} ({parsed.source})" if parsed.source else ""),
                now=alarm.ts,
            )

    def _sample(self, parsed: Parsed, now: dt.datetime) -> None:
        """Remember the message as one of its source's last (one per topic, a few topics)."""
        assert parsed.source_pk is not None
        kept = self._samples.setdefault(parsed.source_pk, {})
        kept.pop(parsed.topic, None)
        kept[parsed.topic] = (
            parsed.received_at or now,
            bytes(parsed.raw[: SourceSample.PAYLOAD_KEEP_BYTES]),
        )
        while len(kept) > SourceSample.KEEP:
            del kept[next(iter(kept))]
        self._samples_dirty.add(parsed.source_pk)

    def _write_samples(self, *, force: bool = False) -> None:
        """The dirty sources' samples, replaced, at most every SAMPLE_SECONDS (one DELETE and
        one INSERT per source, whatever the message rate)."""
        clock = time.monotonic()
        if not self._samples_dirty or (
            not force and clock - self._samples_written < SAMPLE_SECONDS
        ):
            return
        self._samples_written = clock
        dirty, self._samples_dirty = self._samples_dirty, set()
        existing = set(SensorSource.objects.filter(pk__in=dirty).values_list("pk", flat=True))
        SourceSample.objects.filter(source_id__in=existing).delete()
        SourceSample.objects.bulk_create(
            [
                SourceSample(
                    source_id=pk,
                    received_at=received_at,
                    topic=payloads.storable(topic, 255),
                    payload=payload,
                )
                for pk in existing
                for topic, (received_at, payload) in self._samples.get(pk, {}).items()
            ]
        )
        for pk in dirty - existing:  # deleted meanwhile
            self._samples.pop(pk, None)

    def _push(self, latest: dict[str, tuple]) -> None:
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
        hooks.push_readings(due)


def _dew_point(temperature: float, humidity: float, log=math.log) -> float:
    """payloads.dew_point for known-good values (Magnus, Sonntag 1990), inlined for speed."""
    gamma = log(humidity / 100.0) + 17.62 * temperature / (243.12 + temperature)
    return round(243.12 * gamma / (17.62 - gamma), 2)


def dead_letter(
    parsed: Parsed, reason: str, detail: str, now: dt.datetime | None = None
) -> DeadLetter:
    """A row that stores whatever the message held: the payload as bytes, the texts escaped."""
    return DeadLetter(
        received_at=parsed.received_at or now or timezone.now(),
        topic=payloads.storable(parsed.topic, 255),
        sensor_id=payloads.storable(parsed.sensor_id, 64),
        payload=bytes(parsed.raw[: DeadLetter.PAYLOAD_KEEP_BYTES]),
        payload_size=len(parsed.raw),
        reason=reason,
        detail=payloads.storable(detail, 500),
        source=parsed.source,
    )


def record_discovered(sensor_id: str, parsed: Parsed, now: dt.datetime) -> None:
    preview = parsed.raw[:500].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
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


def default_client_id(topic_prefix: str, group: str = "", slot: str = "") -> str:
    """``lantai-ingest-<prefix>`` for the one worker of a persistent session; in a shared group
    each worker needs its own id: ``lantai-ingest-<prefix>-<host>-<slot or pid>`` (≤ 64
    characters, the suffix kept whole)."""
    base = f"lantai-ingest-{topic_prefix}"
    if not group:
        return base[:64]
    suffix = f"-{slot or os.getpid()}"
    return f"{base}-{socket.gethostname()}"[: 64 - len(suffix)] + suffix


class IngestWorker:
    """Owns the MQTT client, the bounded hand-over queue and the writer thread.

    One worker (``group`` empty, the default): a persistent session under a fixed client id
    (clean start off, session expiry of days), so messages published while it restarts, and
    those it had taken but not committed when it died, are delivered again.

    Several workers (``group`` = ``MQTT_SHARED_GROUP``): each subscribes with
    ``$share/<group>/…`` under its own client id and the broker hands every message to one
    member. Such a worker starts clean with a session expiry of 0, so its session ends with its
    connection. Measured against Mosquitto 2.0.11: the broker keeps choosing a disconnected
    member whose session persists, queueing every n-th message there, and drops that queue when
    the session expires; nor does it hand a member's unacknowledged messages to another member
    when that member goes (kill, crash or expiry). A short expiry would still lose what is
    queued in it; with none, the member leaves the group the moment its connection closes and
    the others get everything from then on. The price is that a worker killed or cut off loses
    what it had received and not committed (at most a batch, usually well under a second of its
    share); a stopped worker loses nothing: ``stop`` unsubscribes first, waits for the broker's
    UNSUBACK (everything routed here arrives before it) and then commits and acknowledges it all.
    Without a session to come back to, a message refused while the database is down (buffer
    full) is acknowledged and counted as ``refused``: it is lost, where the single worker's
    broker session would keep it.
    """

    def __init__(
        self,
        *,
        client_id: str,
        topic_prefix: str | None = None,
        group: str | None = None,
        batch_size: int = 5000,
        flush_interval: float = 0.2,
        linger: float = LINGER_SECONDS,
        buffer_limit: int = 50000,
        horizon: dt.timedelta = payloads.DEFAULT_HORIZON,
    ) -> None:
        self.client_id = client_id
        self.topic_prefix = topic_prefix or topics.prefix()
        self.group = settings.MQTT_SHARED_GROUP if group is None else group
        self.subscriptions = topics.subscriptions(topic_prefix=self.topic_prefix, group=self.group)
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
        self.leaving = False  # a shared-group member that has unsubscribed on its way out
        self.connected = False
        self.subscribed = threading.Event()  # the broker has granted our subscriptions
        self.db_ok = True
        self.last_error = ""
        self.failure = ""  # why the writer thread died, if it did
        self.pending: list[Parsed] = []  # taken from the queue, not yet committed
        self.refused_since_reconnect = False
        # A packet id means something only on the connection it came with: acknowledgements of
        # messages from an earlier connection are dropped (the broker has sent those again, or,
        # with a clean session, forgotten them; acknowledging could hit a new message's id).
        self._generation = 0
        self._ack_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.client: mqtt.Client | None = None
        # Sensor sources (devices.mqtt.sources): swapped whole by the writer thread when the
        # registry version moves; the network thread reads the attribute once per message.
        self.source_set = sources.SourceSet([])
        self.source_filters: list[str] = []  # subscribed for the sources (with any $share)
        self.sources_applied = threading.Event()  # the broker granted the current set's filters
        self._source_mid: int | None = None
        self._sources_checked = 0.0

    # --- MQTT side (network thread) ---------------------------------------------------------
    def on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        self.connected = True
        if not self.leaving:
            client.subscribe(self.subscriptions)
            if self.source_filters:
                _result, self._source_mid = client.subscribe(
                    [(topic, topics.QOS) for topic in self.source_filters]
                )
        log.info("MQTT connected (session present: %s)", flags.session_present)

    def on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("MQTT subscriptions %s refused: %s", self.subscriptions, refused)
            return
        if mid == self._source_mid:
            self.sources_applied.set()
            return
        self.subscribed.set()

    def on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        self.connected = False
        self.subscribed.clear()
        with self._ack_lock:
            self._generation += 1
        if not self.stopping.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason_code)

    def on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        """paho's message callback (QoS 2, or a client without the raw fast path)."""
        try:
            topic = message.topic
        except UnicodeDecodeError:  # a broker that lets a malformed topic through
            topic = bytes(message._topic).decode("utf-8", "backslashreplace")
        self.on_raw_message(topic, message.payload, message.mid, message.qos)

    def on_raw_message(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        """Parse and queue; never touches the database, never raises."""
        if not self.accepting:
            return  # not acknowledged: the broker delivers it again after the restart
        if len(self.queue) + len(self.pending) >= self.buffer_limit:
            self._refuse(mid if qos else None)
            return
        try:
            parsed = parse_message(
                topic,
                payload,
                topic_prefix=self.topic_prefix,
                horizon=self.horizon,
                source_set=self.source_set,
            )
        except Exception as exc:  # pragma: no cover - parse_message never raises
            parsed = Parsed(topic, "", "", payload)
            parsed.errors = [payloads.PayloadError(DeadLetterReason.BAD_JSON, repr(exc)[:200])]
        if qos:
            parsed.ack = mid | self._generation << MID_BITS
        self.queue.append(parsed)
        if self._writer_waiting:
            self._wake.set()

    def _refuse(self, mid: int | None) -> None:
        """Not acknowledged, so the broker keeps it for our session; once the backlog has
        drained the writer forces a reconnect and the broker delivers it again. A shared-group
        worker has no session to keep it: acknowledged and lost (see the class docstring),
        rather than held unacknowledged until the broker stops sending to this member."""
        self.writer.counters.add(received=1, refused=1)
        if self.group:
            if mid is not None and self.client is not None:
                self._send_acks([mid])
            if not self.refused_since_reconnect:
                log.error("buffer full: refusing messages; a shared group cannot keep them")
            self.refused_since_reconnect = True
            return
        self.refused_since_reconnect = True

    def _redeliver_refused(self) -> None:
        if not self.refused_since_reconnect or self.pending_count() > self.buffer_limit // 2:
            return
        self.refused_since_reconnect = False
        if self.group:
            return  # a reconnect would end the session and lose every unacknowledged message
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

    # --- sensor sources ---------------------------------------------------------------------
    def refresh_sources(self) -> bool:
        """Load the sensor sources again if their registry version moved; subscribe to new
        filters, unsubscribe from dropped ones. True when the set changed. A source whose
        mapping no longer compiles (saved before a rule was added) is left out and logged."""
        version = RegistryVersion.current(RegistryVersion.SOURCES)
        if version == self.source_set.version:
            return False
        specs = []
        for source in SensorSource.objects.order_by("name"):
            try:
                specs.append(
                    sources.compile_source(
                        pk=source.pk,
                        name=source.name,
                        enabled=source.enabled,
                        profile=source.profile,
                        topic_filters=source.filter_list(),
                        sensor_id_from=source.sensor_id_from,
                        sensor_id_level=source.sensor_id_level,
                        sensor_id_path=source.sensor_id_path,
                        sensor_id_prefix=source.sensor_id_prefix,
                        mapping=source.mapping,
                    )
                )
            except sources.MappingError as exc:
                log.error("sensor source %r left out: %s", source.name, exc)
        source_set = sources.SourceSet(specs, version)
        wanted = [topics.shared(f, self.group) for f in source_set.filters()]
        dropped = [f for f in self.source_filters if f not in wanted]
        added = [f for f in wanted if f not in self.source_filters]
        self.source_set = source_set  # the network thread takes it from its next message
        self.source_filters = wanted
        client = self.client
        self.sources_applied.clear()
        if client is not None and self.connected:
            if dropped:
                client.unsubscribe(dropped)
            if added:
                _result, self._source_mid = client.subscribe(
                    [(topic, topics.QOS) for topic in added]
                )
            else:
                self.sources_applied.set()
        elif not wanted:
            self.sources_applied.set()
        log.info(
            "sensor sources v%s: %d (%d enabled)",
            version,
            len(specs),
            sum(spec.enabled for spec in specs),
        )
        return True

    def _poll_sources(self) -> None:
        clock = time.monotonic()
        if clock - self._sources_checked < SOURCES_POLL_SECONDS:
            return
        self._sources_checked = clock
        try:
            self.refresh_sources()
        except DatabaseError as exc:
            self._db_failed(exc)
        except Exception as exc:  # the stream goes on with the sources it has
            log.warning("sensor sources not reloaded: %s: %s", type(exc).__name__, exc)

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
        """Write ``pending``; acknowledge and drop what was committed (stored or dead-lettered).
        False on an outage: what was not committed stays for the retry."""
        if not self.pending:
            return True
        batch = self.pending[: self.batch_size]
        done: list[Parsed] = []
        try:
            self._write(batch, done)
        except Exception as exc:  # an outage: _write dead-letters everything else
            self._settle(batch, done)
            self._db_failed(exc)
            return False
        self.db_ok = True
        reset_queries()  # a long-running process: no growing query log, even with DEBUG on
        self._settle(batch, done)
        self._redeliver_refused()
        return True

    def _write(self, batch: list[Parsed], done: list[Parsed]) -> None:
        """Write ``batch``. Refused for its data: write each half on its own, down to single
        messages, which are dead-lettered; ``done`` collects what was committed either way.
        An outage propagates (log2(batch) levels at most)."""
        try:
            self.writer.write(batch)
        except Exception as exc:
            if is_outage(exc):
                raise
            self.writer.forget(batch)
            if len(batch) > 1:
                half = len(batch) // 2
                self._write(batch[:half], done)
                self._write(batch[half:], done)
                return
            log.warning("database refused %s: %s: %s", batch[0].topic, type(exc).__name__, exc)
            try:
                self.writer.refuse(batch[0], exc)
            except Exception as refused:  # no dead letter either: the database is at fault
                raise refused if is_outage(refused) else DatabaseError(repr(refused)) from exc
        done.extend(batch)

    def _settle(self, batch: list[Parsed], done: list[Parsed]) -> None:
        """Drop the committed messages of ``batch`` (the head of ``pending``) and ack them."""
        if len(done) == len(batch):
            del self.pending[: len(batch)]
        elif done:
            committed = {id(parsed) for parsed in done}
            self.pending[: len(batch)] = [p for p in batch if id(p) not in committed]
        if done:
            self._ack(done)

    def _db_failed(self, exc: Exception) -> None:
        if self.db_ok:
            log.error("database unavailable, buffering: %s", exc)
        self.db_ok = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.writer.sensors.clear()
        hooks.forget_reading_staging()
        with contextlib.suppress(Exception):  # the connection is already broken
            connection.close()

    def _ack(self, batch: list[Parsed]) -> None:
        """Acknowledge the QoS 1 messages of ``batch`` that came on the current connection."""
        if self.client is None:
            return
        with self._ack_lock:
            current = self._generation
            mids = [
                ack & 0xFFFF
                for parsed in batch
                if (ack := parsed.ack) is not None and ack >> MID_BITS == current
            ]
            self._send_acks(mids)

    def _send_acks(self, mids: list[int]) -> None:
        client = self.client
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
        """The writer thread. Whatever kills it is kept in ``failure`` for ``problem``."""
        try:
            self._run_writer()
        except BaseException as exc:
            self.failure = f"{type(exc).__name__}: {exc}"[:500] or "unknown error"
            log.exception("writer thread died")
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def _run_writer(self) -> None:
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
            if self.db_ok and not stopping:
                self._poll_sources()
            if stopping and not self.queue and (not self.pending or not self.db_ok):
                break
            if self.pending and not self.db_ok:
                time.sleep(0.05)
        self.heartbeat()

    def problem(self) -> str:
        """Why this worker cannot go on ("" while it can): a dead writer or network thread."""
        if self.failure:
            return f"writer thread died: {self.failure}"
        if self.stopping.is_set():
            return ""
        if self._thread is not None and not self._thread.is_alive():
            return "writer thread ended"
        network = getattr(self.client, "_thread", None)  # paho's loop_start thread
        if network is not None and not network.is_alive():
            return "MQTT network thread ended"
        return ""

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        protocol = protocol_version()
        clean = bool(self.group)  # see the class docstring
        self.client = make_client(
            self.client_id,
            clean_start=clean,
            protocol=protocol,
            manual_ack=True,
            client_class=ingest_client_class(),
        )
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = self.on_disconnect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        if isinstance(self.client, IngestClient):
            self.client.on_raw_message = self.on_raw_message
        self.heartbeat()
        with contextlib.suppress(DatabaseError):  # the writer thread tries again
            self.refresh_sources()
            self._sources_checked = time.monotonic()
        self._thread = threading.Thread(target=self.run_writer, name="ingest-writer", daemon=True)
        self._thread.start()

        config = broker_config()
        self.client.connect_async(
            config.host,
            config.port,
            keepalive=30,
            **connect_options(self.client, clean_start=clean),
        )
        self.client.loop_start()

    def leave_group(self, timeout: float = 5.0) -> bool:
        """Unsubscribe and wait for the UNSUBACK: after it the broker routes nothing here, and
        everything it had routed here arrived before it (one connection, in order)."""
        client = self.client
        self.leaving = True
        if client is None or not self.connected:
            return False
        unsubscribed = threading.Event()
        client.on_unsubscribe = lambda *args: unsubscribed.set()
        result, _mid = client.unsubscribe(
            [topic for topic, _qos in self.subscriptions] + self.source_filters
        )
        return result == mqtt.MQTT_ERR_SUCCESS and unsubscribed.wait(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop taking messages, flush and acknowledge what was taken, then disconnect. A
        shared-group member leaves the group first and takes what was already on its way."""
        if self.group:
            self.leave_group()
        else:
            self.accepting = False
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.accepting = False
        lost = self.pending_count()
        if self.group and lost:
            log.error("%d messages not stored: they end with this worker's session", lost)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
