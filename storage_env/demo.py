"""Demo climate data: policies per room, a day of raw readings, two months of hourly history."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from devices.models import Sensor
from devices.mqtt.payloads import dew_point
from devices.simulator import SimulatedSensor
from repository.models import StoreRoom
from storage_env.choices import AggregateBucket
from storage_env.models import ClimatePolicy, Reading, ReadingAggregate, RollupWatermark
from storage_env.rollup import floor_time, rollup_all

RAW_HOURS = 24
HISTORY_DAYS = 60


@transaction.atomic
def seed(*, records: int, out) -> None:  # noqa: ARG001
    from accounts.models import User

    keeper = User.objects.filter(username="keeper").first()  # accounts' demo keeper
    for room in StoreRoom.objects.all():
        if keeper is not None:
            room.keepers.add(keeper)  # told personally of this room's alarms (idempotent)
        # Short debounce so that a simulated excursion shows as an alarm within the demo.
        ClimatePolicy.objects.get_or_create(
            room=room,
            defaults={"sustain_minutes": 1, "clear_minutes": 1, "escalate_after_minutes": 15},
        )
    sensors = list(Sensor.objects.filter(kind__in=["climate", "surface"]).select_related("room"))
    if not sensors or Reading.objects.exists():
        out.write("  storage_env: history already present (or no sensors)")
        return
    now = timezone.now()
    raw_start = floor_time(now - dt.timedelta(hours=RAW_HOURS), 3600)
    history_start = raw_start - dt.timedelta(days=HISTORY_DAYS)
    rng = random.Random(2026)  # noqa: S311 - demo data
    raw: list[Reading] = []
    hourly: list[ReadingAggregate] = []
    for sensor in sensors:
        sim = SimulatedSensor(
            sensor.sensor_id,
            template=sensor.room.template if sensor.room else "paper",
            kind=sensor.kind,
            rng=random.Random(rng.random()),  # noqa: S311
        )
        hour = history_start
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
                    count=len(values),
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
        while ts < now - dt.timedelta(minutes=5):
            value = sim.step(ts.timestamp(), excursion_rate=0.002)
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
            ts += dt.timedelta(minutes=5)
        Sensor.objects.filter(pk=sensor.pk).update(last_seen=raw[-1].ts if raw else None)
    ReadingAggregate.objects.bulk_create(hourly, batch_size=5000, ignore_conflicts=True)
    Reading.objects.bulk_create(raw, batch_size=5000, ignore_conflicts=True)
    RollupWatermark.objects.update_or_create(
        bucket=AggregateBucket.HOUR, defaults={"until": raw_start}
    )
    rollup_all(now=now)
    rollup_all(now=now)
    out.write(f"  storage_env: {len(raw)} readings, {len(hourly)} hourly aggregates")
