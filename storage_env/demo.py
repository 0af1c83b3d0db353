"""Demo climate data: policies per room with set points, a day of raw readings at the sensors'
reporting interval, two months of hourly history."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from devices.choices import SensorKind
from devices.models import Sensor
from devices.mqtt.payloads import dew_point
from devices.simulator import SimulatedSensor
from repository.models import StoreRoom
from storage_env.choices import AggregateBucket
from storage_env.models import (
    ClimatePolicy,
    Reading,
    ReadingAggregate,
    RollupWatermark,
    effective_policy,
)
from storage_env.policies import update_climate_policy
from storage_env.rollup import floor_time, rollup_all

RAW_HOURS = 24
HISTORY_DAYS = 60
RAW_STEP_MIN = 60  # seconds: raw readings at the sensor's interval, but no denser than this


def _set_points(room: StoreRoom, sensors: list[Sensor]) -> dict[str, float]:
    """Set points a keeper would choose for the room (选定温、湿度, JGJ 25-2010 §5.2.3): where
    its air conditioning holds it — the mean of its simulated sensors' base values, to 0.5 —
    inside the band; the band's middle for a room without sensors."""
    policy = effective_policy(room)
    sims = [SimulatedSensor(s.sensor_id, template=room.template) for s in sensors]
    temp = sum(s.base_temp for s in sims) / len(sims) if sims else policy.temp_set
    rh = sum(s.base_rh for s in sims) / len(sims) if sims else policy.rh_set
    return {
        "temp_set": min(policy.temp_max, max(policy.temp_min, round(temp * 2) / 2)),
        "rh_set": min(policy.rh_max, max(policy.rh_min, round(rh * 2) / 2)),
    }


@transaction.atomic
def seed(*, records: int, out) -> None:
    keeper = User.objects.filter(username="keeper").first()  # accounts' demo keeper
    for room in StoreRoom.objects.all():
        if keeper is not None:
            room.keepers.add(keeper)  # told personally of this room's alarms (idempotent)
        # Short debounce so that a simulated excursion shows as an alarm within the demo.
        policy, _created = ClimatePolicy.objects.get_or_create(
            room=room,
            defaults={"sustain_minutes": 1, "clear_minutes": 1, "escalate_after_minutes": 15},
        )
        if policy.temp_set is None and policy.rh_set is None:  # never overwrite a keeper's
            climate = list(Sensor.objects.filter(room=room, kind=SensorKind.CLIMATE))
            update_climate_policy(
                room,
                acting_user=None,
                changes=_set_points(room, climate),
                note="示例数据：设定温湿度",
            )
    sensors = list(Sensor.objects.filter(kind__in=["climate", "surface"]).select_related("room"))
    if not sensors or Reading.objects.exists():
        out.write("  storage_env: history already present (or no sensors)")
        return
    now = timezone.now()
    raw_start = floor_time(now - dt.timedelta(hours=RAW_HOURS), 3600)
    history_start = raw_start - dt.timedelta(days=HISTORY_DAYS)
    rng = random.Random(2026)
    raw: list[Reading] = []
    hourly: list[ReadingAggregate] = []
    for sensor in sensors:
        sim = SimulatedSensor(
            sensor.sensor_id,
            template=sensor.room.template if sensor.room else "paper",
            kind=sensor.kind,
            rng=random.Random(rng.random()),
        )
        hour = history_start
        # Each hour is simulated from six samples but stands for what the sensor reports in an
        # hour (its count), so the history's data completeness matches its reporting interval.
        per_hour = max(1, 3600 // max(1, sensor.interval_seconds))
        while hour < raw_start:
            values = [sim.step(hour.timestamp() + m * 600, excursion_rate=0.001) for m in range(6)]
            temps = [v["temperature"] for v in values]
            hums = [v["humidity"] for v in values if "humidity" in v]
            hourly.append(
                ReadingAggregate(
                    sensor=sensor,
                    room=sensor.room,
                    bucket=AggregateBucket.HOUR,
                    start=hour,
                    count=per_hour,
                    temperature_min=min(temps),
                    temperature_max=max(temps),
                    temperature_mean=round(sum(temps) / len(temps), 2),
                    humidity_min=min(hums) if hums else None,
                    humidity_max=max(hums) if hums else None,
                    humidity_mean=round(sum(hums) / len(hums), 2) if hums else None,
                )
            )
            hour += dt.timedelta(hours=1)
        ts = raw_start
        step = dt.timedelta(seconds=max(RAW_STEP_MIN, sensor.interval_seconds))
        # The simulator's excursion chance is per sample: keep it per 5 minutes as before.
        rate = 0.002 * step.total_seconds() / 300
        while ts < now - dt.timedelta(minutes=5):
            value = sim.step(ts.timestamp(), excursion_rate=rate)
            humidity = value.get("humidity")
            raw.append(
                Reading(
                    sensor=sensor,
                    room=sensor.room,
                    ts=ts,
                    temperature=value["temperature"],
                    humidity=humidity,
                    dew_point=dew_point(value["temperature"], humidity),
                    battery=value["battery"],
                )
            )
            ts += step
        Sensor.objects.filter(pk=sensor.pk).update(last_seen=raw[-1].ts if raw else None)
    ReadingAggregate.objects.bulk_create(hourly, batch_size=5000, ignore_conflicts=True)
    Reading.objects.bulk_create(raw, batch_size=5000, ignore_conflicts=True)
    RollupWatermark.objects.update_or_create(
        bucket=AggregateBucket.HOUR, defaults={"until": raw_start}
    )
    rollup_all(now=now)
    rollup_all(now=now)
    out.write(f"  storage_env: {len(raw)} readings, {len(hourly)} hourly aggregates")
