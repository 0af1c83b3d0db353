"""Read side of the climate pages and API: room states, history series, exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.utils import timezone

from devices.choices import SensorKind
from devices.models import Sensor
from repository.models import StoreRoom
from storage_env.choices import OPEN_STATES, AggregateBucket, Severity
from storage_env.models import Alarm, ClimatePolicy, Reading, ReadingAggregate, effective_policy

RANGES = {
    "day": (dt.timedelta(days=1), None),  # raw readings
    "week": (dt.timedelta(days=7), AggregateBucket.FIVE_MINUTES),
    "month": (dt.timedelta(days=31), AggregateBucket.HOUR),
    "year": (dt.timedelta(days=366), AggregateBucket.HOUR),
}
STALE = dt.timedelta(minutes=15)


def latest_readings(rooms: list[StoreRoom]) -> dict[int, list[dict[str, Any]]]:
    """The latest reading of each climate sensor in the rooms (one small query per sensor)."""
    since = timezone.now() - dt.timedelta(days=2)
    result: dict[int, list[dict[str, Any]]] = {room.pk: [] for room in rooms}
    sensors = Sensor.objects.filter(room__in=rooms, enabled=True, kind=SensorKind.CLIMATE).order_by(
        "sensor_id"
    )
    for sensor in sensors:
        reading = (
            Reading.objects.filter(sensor_id=sensor.pk, ts__gte=since)
            .order_by("-ts")
            .values("ts", "temperature", "humidity", "dew_point")
            .first()
        )
        if reading:
            result[sensor.room_id].append({"sensor_id": sensor.sensor_id, **reading})
    return result


def room_states(rooms: list[StoreRoom] | None = None) -> list[dict[str, Any]]:
    rooms = rooms if rooms is not None else list(StoreRoom.objects.order_by("code"))
    policies = {p.room_id: p for p in ClimatePolicy.objects.filter(room__in=rooms)}
    latest = latest_readings(rooms)
    open_alarms: dict[int, list[Alarm]] = {}
    for alarm in (
        Alarm.objects.filter(room__in=rooms, state__in=OPEN_STATES)
        .select_related("sensor")
        .order_by("-raised_at")
    ):
        open_alarms.setdefault(alarm.room_id, []).append(alarm)
    now = timezone.now()
    states = []
    for room in rooms:
        policy = effective_policy(room, policies.get(room.pk))
        readings = latest[room.pk]

        def mean(key: str, readings=readings) -> float | None:
            values = [r[key] for r in readings if r[key] is not None]
            return round(sum(values) / len(values), 1) if values else None

        alarms = open_alarms.get(room.pk, [])
        fresh = [r for r in readings if now - r["ts"] <= STALE]
        if any(a.severity == Severity.CRITICAL for a in alarms):
            colour = "critical"
        elif alarms:
            colour = "warning"
        elif not fresh:
            colour = "unknown"
        else:
            colour = "ok"
        states.append(
            {
                "id": room.pk,
                "code": room.code,
                "name": room.name,
                "template": room.template,
                "template_label": str(room.get_template_display()),
                "temperature": mean("temperature"),
                "humidity": mean("humidity"),
                "dew_point": mean("dew_point"),
                "updated_at": max((r["ts"] for r in readings), default=None),
                "state": colour,
                "range": {
                    "temp_min": policy.temp_min,
                    "temp_max": policy.temp_max,
                    "rh_min": policy.rh_min,
                    "rh_max": policy.rh_max,
                },
                "open_alarms": [
                    {
                        "id": a.pk,
                        "rule": a.rule,
                        "rule_label": str(a.get_rule_display()),
                        "severity": a.severity,
                        "state": a.state,
                        "message": a.message,
                        "raised_at": a.raised_at,
                    }
                    for a in alarms
                ],
            }
        )
    return states


def history(room: StoreRoom, range_name: str, *, now: dt.datetime | None = None) -> dict:
    """Series for the room chart: raw readings for a day, aggregates for longer ranges."""
    span, bucket = RANGES.get(range_name, RANGES["day"])
    now = now or timezone.now()
    since = now - span
    points: list[dict[str, Any]] = []
    if bucket is None:
        rows = (
            Reading.objects.filter(room=room, ts__gte=since, sensor__kind=SensorKind.CLIMATE)
            .order_by("ts")
            .values_list("sensor__sensor_id", "ts", "temperature", "humidity", "dew_point")
        )
        for sensor_id, ts, temperature, humidity, dew in rows.iterator(chunk_size=5000):
            points.append(
                {
                    "sensor": sensor_id,
                    "ts": ts.isoformat(),
                    "temperature": temperature,
                    "humidity": humidity,
                    "dew_point": dew,
                }
            )
    else:
        rows = (
            ReadingAggregate.objects.filter(
                room=room, bucket=bucket, start__gte=since, sensor__kind=SensorKind.CLIMATE
            )
            .order_by("start")
            .values_list(
                "sensor__sensor_id",
                "start",
                "temperature_min",
                "temperature_max",
                "temperature_mean",
                "humidity_min",
                "humidity_max",
                "humidity_mean",
            )
        )
        for sensor_id, start, tmin, tmax, tmean, hmin, hmax, hmean in rows.iterator(
            chunk_size=5000
        ):
            points.append(
                {
                    "sensor": sensor_id,
                    "ts": start.isoformat(),
                    "temperature": tmean,
                    "temperature_min": tmin,
                    "temperature_max": tmax,
                    "humidity": hmean,
                    "humidity_min": hmin,
                    "humidity_max": hmax,
                }
            )
    policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    return {
        "room": room.pk,
        "range": range_name if range_name in RANGES else "day",
        "bucket": bucket or "raw",
        "since": since.isoformat(),
        "limits": {
            "temp_min": policy.temp_min,
            "temp_max": policy.temp_max,
            "rh_min": policy.rh_min,
            "rh_max": policy.rh_max,
        },
        "points": points,
    }


def alarm_counts_by_room() -> dict[int, int]:
    return dict(
        Alarm.objects.filter(state__in=OPEN_STATES)
        .values_list("room_id")
        .annotate(n=Count("id"))
        .values_list("room_id", "n")
    )
