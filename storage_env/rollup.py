"""5-minute and hourly aggregates from raw readings, and the retention job for raw data."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from storage_env.choices import BUCKET_SECONDS, AggregateBucket
from storage_env.models import Reading, ReadingAggregate, RollupWatermark

SETTLE = dt.timedelta(minutes=1)  # late readings of a just-closed bucket still count
MAX_SPAN = dt.timedelta(days=1)  # at most this much raw data per call (bounded memory)


def floor_time(ts: dt.datetime, seconds: int) -> dt.datetime:
    epoch = int(ts.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)


def aggregate_rows(rows, bucket: str) -> list[ReadingAggregate]:
    """``rows``: (sensor_id, room_id, ts, temperature, humidity, dew_point) tuples."""
    seconds = BUCKET_SECONDS[bucket]
    groups: dict[tuple, list] = defaultdict(list)
    for sensor_id, room_id, ts, temperature, humidity, dew in rows:
        groups[(sensor_id, room_id, floor_time(ts, seconds))].append((temperature, humidity, dew))
    result = []
    for (sensor_id, room_id, start), values in groups.items():
        temps = [v[0] for v in values if v[0] is not None]
        hums = [v[1] for v in values if v[1] is not None]
        dews = [v[2] for v in values if v[2] is not None]
        result.append(
            ReadingAggregate(
                sensor_id=sensor_id,
                room_id=room_id,
                bucket=bucket,
                start=start,
                count=len(values),
                temperature_min=min(temps) if temps else None,
                temperature_max=max(temps) if temps else None,
                temperature_mean=round(sum(temps) / len(temps), 3) if temps else None,
                humidity_min=min(hums) if hums else None,
                humidity_max=max(hums) if hums else None,
                humidity_mean=round(sum(hums) / len(hums), 3) if hums else None,
                dew_point_mean=round(sum(dews) / len(dews), 3) if dews else None,
            )
        )
    return result


@transaction.atomic
def rollup(bucket: str, *, now: dt.datetime | None = None) -> int:
    """Aggregate complete buckets after the watermark (up to one day per call)."""
    now = now or timezone.now()
    seconds = BUCKET_SECONDS[bucket]
    mark = RollupWatermark.objects.select_for_update().filter(bucket=bucket).first()
    if mark is None:
        first = Reading.objects.order_by("ts").values_list("ts", flat=True).first()
        if first is None:
            return 0
        # Several engines may start at once: the first insert wins, the others wait for it.
        RollupWatermark.objects.bulk_create(
            [RollupWatermark(bucket=bucket, until=floor_time(first, seconds))],
            ignore_conflicts=True,
        )
        mark = RollupWatermark.objects.select_for_update().get(bucket=bucket)
    end = min(floor_time(now - SETTLE, seconds), mark.until + MAX_SPAN)
    if end <= mark.until:
        return 0
    rows = Reading.objects.filter(ts__gte=mark.until, ts__lt=end).values_list(
        "sensor_id", "room_id", "ts", "temperature", "humidity", "dew_point"
    )
    aggregates = aggregate_rows(rows.iterator(chunk_size=5000), bucket)
    ReadingAggregate.objects.filter(bucket=bucket, start__gte=mark.until, start__lt=end).delete()
    ReadingAggregate.objects.bulk_create(aggregates, batch_size=2000)
    mark.until = end
    mark.save(update_fields=["until"])
    return len(aggregates)


def rollup_all(*, now: dt.datetime | None = None) -> int:
    return sum(rollup(bucket, now=now) for bucket in AggregateBucket.values)


def drop_old_readings(*, keep_days: int, now: dt.datetime | None = None, batch: int = 20000) -> int:
    """Delete raw readings older than ``keep_days`` that are already rolled up, in ts-range
    batches on the ts index (never a scan of the whole table); aggregates stay."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=keep_days)
    marks = list(RollupWatermark.objects.values_list("until", flat=True))
    if len(marks) < len(AggregateBucket.values):
        return 0
    cutoff = min(cutoff, *marks)
    deleted = 0
    while True:
        # No ORDER BY: the BRIN time index finds old rows without sorting them.
        ids = list(Reading.objects.filter(ts__lt=cutoff).values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += Reading.objects.filter(id__in=ids).delete()[0]
