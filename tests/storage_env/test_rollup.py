import datetime as dt

import pytest

from storage_env.choices import AggregateBucket
from storage_env.models import Reading, ReadingAggregate, RollupWatermark
from storage_env.queries import history
from storage_env.rollup import drop_old_readings, rollup, rollup_all
from tests.storage_env.conftest import NOW

pytestmark = pytest.mark.django_db
M = dt.timedelta(minutes=1)


def test_five_minute_and_hourly_aggregates(sensor, add_readings):
    add_readings(sensor, NOW - 120 * M, 60, temperature=18.0, humidity=50.0)
    add_readings(sensor, NOW - 60 * M, 60, temperature=22.0, humidity=54.0)
    rollup_all(now=NOW)
    assert ReadingAggregate.objects.filter(bucket=AggregateBucket.HOUR).count() == 1  # settling
    rollup_all(now=NOW + 2 * M)
    hourly = ReadingAggregate.objects.filter(bucket=AggregateBucket.HOUR).order_by("start")
    assert [(a.count, a.temperature_mean, a.humidity_max) for a in hourly] == [
        (60, 18.0, 50.0),
        (60, 22.0, 54.0),
    ]
    five = ReadingAggregate.objects.filter(bucket=AggregateBucket.FIVE_MINUTES)
    assert five.count() == 24 and {a.count for a in five} == {5}
    assert rollup(AggregateBucket.HOUR, now=NOW + 2 * M) == 0  # nothing new: idempotent
    assert ReadingAggregate.objects.filter(bucket=AggregateBucket.HOUR).count() == 2
    week = history(sensor.room, "week", now=NOW)
    assert week["bucket"] == "5m" and len(week["points"]) == 24
    day = history(sensor.room, "day", now=NOW)
    assert day["bucket"] == "raw" and len(day["points"]) == 120


def test_retention_drops_only_rolled_up_raw_data(sensor, add_readings):
    add_readings(sensor, NOW - dt.timedelta(days=10), 30)
    add_readings(sensor, NOW - 30 * M, 30)
    assert drop_old_readings(keep_days=7, now=NOW) == 0  # not rolled up yet: kept
    for _ in range(12):
        rollup_all(now=NOW)
    assert RollupWatermark.objects.count() == 2
    assert drop_old_readings(keep_days=7, now=NOW, batch=7) == 30
    assert Reading.objects.count() == 30
    assert ReadingAggregate.objects.filter(start__lt=NOW - dt.timedelta(days=7)).exists()
