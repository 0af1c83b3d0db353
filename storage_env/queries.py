"""Read side of the climate pages and API: room states, history series, sparklines, alarms."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Avg
from django.utils import timezone

from devices.choices import SensorKind
from devices.models import Sensor
from repository.models import StoreRoom
from storage_env.choices import (
    BUCKET_SECONDS,
    OPEN_STATES,
    AggregateBucket,
    AlarmRule,
    AlarmState,
    Severity,
    device_code_label,
)
from storage_env.models import (
    Alarm,
    ClimatePolicy,
    EffectivePolicy,
    Reading,
    ReadingAggregate,
    effective_policy,
)

DAY_BUCKET = "1d"  # the year chart: hourly rollups folded into days of the archive's time zone
RANGES = {
    "day": (dt.timedelta(days=1), None),  # raw readings
    "week": (dt.timedelta(days=7), AggregateBucket.FIVE_MINUTES),
    "month": (dt.timedelta(days=31), AggregateBucket.HOUR),
    "year": (dt.timedelta(days=366), DAY_BUCKET),
}
STEP_SECONDS = {**BUCKET_SECONDS, DAY_BUCKET: 86400}
GAP_FACTOR = 3  # no value for longer than 3 steps (or 3 sensor intervals) is drawn as a gap
STALE = dt.timedelta(minutes=15)
LATEST_LOOKBACK = dt.timedelta(days=2)  # a "latest reading" older than this is no reading
SPARK_SPAN = dt.timedelta(hours=24)
SPARK_STEP = dt.timedelta(minutes=15)
VALUE_FIELDS = ("temperature", "humidity")


def latest_readings(rooms: list[StoreRoom]) -> dict[int, list[dict[str, Any]]]:
    """The latest reading of each climate sensor in the rooms (one small query per sensor)."""
    since = timezone.now() - LATEST_LOOKBACK
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


def limits_of(policy: EffectivePolicy) -> dict[str, float]:
    return {
        "temp_min": policy.temp_min,
        "temp_max": policy.temp_max,
        "rh_min": policy.rh_min,
        "rh_max": policy.rh_max,
    }


def out_of_range(value: float | None, low: float, high: float) -> str | None:
    """ "high", "low" or None (in range, or no value)."""
    if value is None:
        return None
    if value > high:
        return "high"
    if value < low:
        return "low"
    return None


def alarm_title(rule: str, rule_label: str, code: str) -> str:
    """What the alarm is, in words: a device alarm by its code's name."""
    return device_code_label(code) if rule == AlarmRule.DEVICE and code else rule_label


def alarm_text(message: str, code: str) -> str:
    """The message, unless a device sent nothing but its code (then the title says it all)."""
    return "" if code and message == code else message


def alarms_with_texts(alarms: Iterable[Alarm]) -> list[Alarm]:
    """The alarms with ``title``, ``text`` and ``code_label`` in the active language (the
    reader's): what the room page and the alarm export show."""
    done = []
    for alarm in alarms:
        alarm.title = alarm_title(alarm.rule, str(alarm.get_rule_display()), alarm.code)
        alarm.text = alarm_text(alarm.display_message, alarm.code)
        alarm.code_label = device_code_label(alarm.code)
        done.append(alarm)
    return done


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
        temperature, humidity = mean("temperature"), mean("humidity")
        updated_at = max((r["ts"] for r in readings), default=None)
        states.append(
            {
                "id": room.pk,
                "code": room.code,
                "name": room.name,
                "template": room.template,
                "template_label": str(room.get_template_display()),
                "temperature": temperature,
                "humidity": humidity,
                "dew_point": mean("dew_point"),
                "updated_at": updated_at,
                "stale": updated_at is None or now - updated_at > STALE,
                "state": colour,
                "range": limits_of(policy),
                "out": {
                    "temperature": out_of_range(temperature, policy.temp_min, policy.temp_max),
                    "humidity": out_of_range(humidity, policy.rh_min, policy.rh_max),
                },
                "open_alarms": [
                    {
                        "id": a.pk,
                        "rule": a.rule,
                        "rule_label": str(a.get_rule_display()),
                        "code": a.code,
                        "code_label": device_code_label(a.code),
                        "title": alarm_title(a.rule, str(a.get_rule_display()), a.code),
                        "text": alarm_text(a.display_message, a.code),
                        "severity": a.severity,
                        "state": a.state,
                        "message": a.display_message,
                        "raised_at": a.raised_at,
                    }
                    for a in alarms
                ],
            }
        )
    return states


def sparklines(
    states: list[dict[str, Any]], *, now: dt.datetime | None = None
) -> dict[int, dict[str, Any]]:
    """Per room, the last 24 h as room means in 15-minute steps (from the 5-minute rollups, one
    query for all rooms), ``None`` where there is no data; the newest step takes the current
    values of ``states`` (the rollup trails the readings by a few minutes)."""
    now = now or timezone.now()
    step = int(SPARK_STEP.total_seconds())
    end = int(now.timestamp()) // step * step + step  # exclusive end of the current step
    since = end - int(SPARK_SPAN.total_seconds())
    slots = (end - since) // step
    sums: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    rows = (
        ReadingAggregate.objects.filter(
            room__in=[s["id"] for s in states],
            bucket=AggregateBucket.FIVE_MINUTES,
            start__gte=dt.datetime.fromtimestamp(since, tz=dt.UTC),
            start__lt=dt.datetime.fromtimestamp(end, tz=dt.UTC),
            sensor__kind=SensorKind.CLIMATE,
        )
        .values("room_id", "start")
        .annotate(t=Avg("temperature_mean"), h=Avg("humidity_mean"))
        .values_list("room_id", "start", "t", "h")
    )
    for room_id, start, t, h in rows:
        acc = sums[(room_id, (int(start.timestamp()) - since) // step)]
        if t is not None:
            acc[0] += t
            acc[1] += 1
        if h is not None:
            acc[2] += h
            acc[3] += 1
    result = {}
    for state in states:
        temps: list[float | None] = []
        hums: list[float | None] = []
        for slot in range(slots):
            acc = sums.get((state["id"], slot))
            temps.append(round(acc[0] / acc[1], 2) if acc and acc[1] else None)
            hums.append(round(acc[2] / acc[3], 2) if acc and acc[3] else None)
        if not state.get("stale"):
            temps[-1] = state["temperature"] if state["temperature"] is not None else temps[-1]
            hums[-1] = state["humidity"] if state["humidity"] is not None else hums[-1]
        result[state["id"]] = {
            "start": since * 1000,  # epoch milliseconds of the first step
            "step": step * 1000,
            "temperature": temps,
            "humidity": hums,
            "limits": state["range"],
        }
    return result


def _with_gaps(rows: list[tuple[dt.datetime, int, dict[str, Any]]], sensor: str) -> list[tuple]:
    """``rows``: one sensor's (ts, step seconds, point) in time order. A point with null values
    is put after every value followed by nothing for more than GAP_FACTOR steps, so the chart
    breaks the line there instead of drawing straight across."""
    result: list[tuple] = []
    previous: tuple | None = None
    for ts, step, point in rows:
        if previous is not None and ts - previous[0] > dt.timedelta(
            seconds=GAP_FACTOR * previous[1]
        ):
            gap_at = previous[0] + dt.timedelta(seconds=previous[1])
            result.append((gap_at, sensor, {"sensor": sensor, "gap": True}))
        result.append((ts, sensor, point))
        previous = (ts, step)
    return result


def _raw_rows(room: StoreRoom, since: dt.datetime, until: dt.datetime) -> dict[str, list]:
    series: dict[str, list] = defaultdict(list)
    rows = (
        Reading.objects.filter(
            room=room, ts__gte=since, ts__lte=until, sensor__kind=SensorKind.CLIMATE
        )
        .order_by("ts")
        .values_list(
            "sensor__sensor_id",
            "sensor__interval_seconds",
            "ts",
            "temperature",
            "humidity",
            "dew_point",
        )
    )
    for sensor_id, interval, ts, temperature, humidity, dew in rows.iterator(chunk_size=5000):
        point = {"temperature": temperature, "humidity": humidity, "dew_point": dew}
        series[sensor_id].append((ts, interval or 60, point))
    return series


def _aggregate_rows(
    room: StoreRoom, bucket: str, since: dt.datetime, until: dt.datetime
) -> dict[str, list]:
    series: dict[str, list] = defaultdict(list)
    rows = (
        ReadingAggregate.objects.filter(
            room=room,
            bucket=bucket,
            start__gte=since,
            start__lte=until,
            sensor__kind=SensorKind.CLIMATE,
        )
        .order_by("start")
        .values_list(
            "sensor__sensor_id",
            "start",
            "count",
            "temperature_min",
            "temperature_max",
            "temperature_mean",
            "humidity_min",
            "humidity_max",
            "humidity_mean",
        )
    )
    step = BUCKET_SECONDS[bucket]
    for sensor_id, start, count, tmin, tmax, tmean, hmin, hmax, hmean in rows.iterator(
        chunk_size=5000
    ):
        point = {
            "count": count,
            "temperature": tmean,
            "temperature_min": tmin,
            "temperature_max": tmax,
            "humidity": hmean,
            "humidity_min": hmin,
            "humidity_max": hmax,
        }
        series[sensor_id].append((start, step, point))
    return series


def _fold_days(rows: list[tuple]) -> list[tuple]:
    """Hourly rows of one sensor folded into days of the archive's time zone: the lowest
    minimum, the highest maximum and the mean weighted by each hour's reading count."""
    days: dict[dt.date, list] = {}
    for start, _step, point in rows:
        days.setdefault(timezone.localtime(start).date(), []).append(point)
    zone = timezone.get_default_timezone()
    folded = []
    for day, points in days.items():
        out: dict[str, Any] = {"count": sum(p["count"] for p in points)}
        for field in VALUE_FIELDS:
            weighted = [(p[field], p["count"]) for p in points if p[field] is not None]
            weight = sum(c for _v, c in weighted)
            out[field] = round(sum(v * c for v, c in weighted) / weight, 2) if weight else None
            lows = [p[f"{field}_min"] for p in points if p[f"{field}_min"] is not None]
            highs = [p[f"{field}_max"] for p in points if p[f"{field}_max"] is not None]
            out[f"{field}_min"] = min(lows) if lows else None
            out[f"{field}_max"] = max(highs) if highs else None
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        folded.append((midnight, STEP_SECONDS[DAY_BUCKET], out))
    return folded


def history(room: StoreRoom, range_name: str, *, now: dt.datetime | None = None) -> dict:
    """Series for the room chart, each range over its own span: raw readings for a day,
    5-minute rollups for a week (hourly ones where no 5-minute rollup exists yet), hourly
    rollups for a month, days (folded from the hourly rollups) for a year. Points are in time
    order, times in the archive's time zone; gaps are marked with null points (``gap``)."""
    range_name = range_name if range_name in RANGES else "day"
    span, bucket = RANGES[range_name]
    now = now or timezone.now()
    since = now - span
    if bucket is None:
        series = _raw_rows(room, since, now)
    elif bucket == DAY_BUCKET:
        hourly = _aggregate_rows(room, AggregateBucket.HOUR, since, now)
        series = {sensor: _fold_days(rows) for sensor, rows in hourly.items()}
    else:
        series = _aggregate_rows(room, bucket, since, now)
        first_fine = min((rows[0][0] for rows in series.values() if rows), default=now)
        if bucket != AggregateBucket.HOUR and first_fine > since:
            # Older than the finest rollups (a new install, the demo): hourly values there.
            coarse = _aggregate_rows(
                room, AggregateBucket.HOUR, since, first_fine - dt.timedelta(seconds=1)
            )
            for sensor, rows in coarse.items():
                series[sensor] = rows + series.get(sensor, [])
    merged: list[tuple] = []
    for sensor, rows in series.items():
        merged.extend(_with_gaps(rows, sensor))
    merged.sort(key=lambda row: (row[0], row[1]))
    points = []
    for ts, sensor, point in merged:
        if point.get("gap"):
            point = {"sensor": sensor, "gap": True, **dict.fromkeys(VALUE_FIELDS)}
        points.append({"sensor": sensor, "ts": timezone.localtime(ts).isoformat(), **point})
    policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    return {
        "room": room.pk,
        "range": range_name,
        "bucket": bucket or "raw",
        "since": timezone.localtime(since).isoformat(),
        "until": timezone.localtime(now).isoformat(),
        "time_zone": settings.TIME_ZONE,
        "limits": limits_of(policy),
        "points": points,
    }


PERSIST_RULES = {
    # rule: (field, is the latest value still outside the band the alarm was raised for?)
    AlarmRule.TEMPERATURE_HIGH: ("temperature", lambda v, p: v > p.temp_max),
    AlarmRule.TEMPERATURE_LOW: ("temperature", lambda v, p: v < p.temp_min),
    AlarmRule.HUMIDITY_HIGH: ("humidity", lambda v, p: v > p.rh_max),
    AlarmRule.HUMIDITY_LOW: ("humidity", lambda v, p: v < p.rh_min),
    AlarmRule.MOULD_RISK: ("humidity", lambda v, p: v > p.mould_rh),
}


def room_alarms(room: StoreRoom, *, limit: int = 50) -> list[Alarm]:
    """The room's newest alarms for its page, each with ``title``, ``text`` and, for a cleared
    climate alarm, ``condition_persists``: its sensor's latest reading is still out of band
    (one query for the policy and one per sensor of such alarms, usually none or one)."""
    alarms = list(
        Alarm.objects.filter(room=room)
        .select_related("sensor", "acknowledged_by")
        .order_by("-raised_at")[:limit]
    )
    check = {a.pk for a in alarms if a.state == AlarmState.CLEARED and a.rule in PERSIST_RULES}
    latest: dict[int, dict[str, Any] | None] = {}
    recent = timezone.now() - LATEST_LOOKBACK
    policy = None
    if any(a.sensor_id for a in alarms if a.pk in check):
        policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    for alarm in alarms_with_texts(alarms):
        alarm.condition_persists = False
        if alarm.pk not in check or not alarm.sensor_id or policy is None:
            continue
        if alarm.sensor_id not in latest:
            latest[alarm.sensor_id] = (
                Reading.objects.filter(sensor_id=alarm.sensor_id, ts__gte=recent)
                .order_by("-ts")
                .values("temperature", "humidity")
                .first()
            )
        reading = latest[alarm.sensor_id]
        field, outside = PERSIST_RULES[alarm.rule]
        value = reading[field] if reading else None
        alarm.condition_persists = value is not None and outside(value, policy)
    return alarms
