"""Is the store room's climate right by JGJ 25-2010 (档案馆建筑设计规范) §5.2?

- Tables 5.2.1 / 5.2.2 give the band each kind of store must stay in (repository.choices
  .CLIMATE_RANGES, with a room's overrides: storage_env.models.effective_policy).
- §5.2.3: "档案库在选定温、湿度后，每昼夜温度波动幅度不得大于±2℃，相对湿度波动幅度不得大于
  ±5%" — once the set points are chosen, the fluctuation within each day and night must not
  exceed ±2 °C and ±5 %RH. Measured here as the deviation of the 5-minute time-weighted mean
  from the room's set point, per calendar day in the archive's time zone.

The first half of the module is pure (lists of ``(datetime, value)`` samples in, numbers out):
the alarm engine reuses it. ``daily_compliance`` is the one query layer: a fixed handful of
queries for any number of days (5-minute rollups where they exist, hourly rollups where only
those exist, raw readings after the 5-minute watermark).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from devices.choices import SensorKind
from devices.models import Sensor
from storage_env.choices import BUCKET_SECONDS, AggregateBucket
from storage_env.models import (
    Alarm,
    ClimatePolicy,
    EffectivePolicy,
    Reading,
    ReadingAggregate,
    RollupWatermark,
    effective_policy,
)
from storage_env.rollup import aggregate_rows

Sample = tuple[dt.datetime, float]

WINDOW = dt.timedelta(minutes=5)  # the resolution of "sustained": one 5-minute rollup bucket
EPSILON = 1e-9  # "不得大于": a deviation of exactly ±2 °C is still within the rule
DEFAULT_INTERVAL = 60  # seconds, when a sensor's expected reporting interval is unknown

# Mould (霉菌): spores of xerophilic moulds (Aspergillus glaucus group) germinate from about
# 64–70 %RH (Snow, Crichton & Wright 1944, "The germination of mould spores at controlled
# humidities", Ann. Appl. Biol. 31); the Image Permanence Institute warns that extended
# periods at 65 %RH and above lead to mould on vulnerable collections. At 80–90 %RH mould
# shows within 1–5 days (SPEC; the Chinese archive-protection guidance calls 80–95 %RH the
# high-incidence range of mould).
MOULD_WATCH_RH = 65.0
MOULD_HIGH_RH = 80.0
MOULD_FASTEST_RH = 90.0
MOULD_DAYS_AT_HIGH = 5.0  # at 80 %RH
MOULD_DAYS_AT_FASTEST = 1.0  # at 90 %RH and above


# --- pure functions -----------------------------------------------------------------------


def _sorted(samples: Iterable[Sample]) -> list[Sample]:
    return sorted(((ts, float(v)) for ts, v in samples if v is not None), key=lambda s: s[0])


def time_weights(
    samples: Sequence[Sample],
    *,
    max_gap: dt.timedelta | None = None,
    until: dt.datetime | None = None,
) -> list[float]:
    """Seconds each (time-sorted) sample stands for: it holds until the next sample, at most
    ``max_gap`` (longer silences are missing data, not the last value). The last sample holds
    until ``until`` (capped the same way), or for the median spacing of the others."""
    n = len(samples)
    if n == 0:
        return []
    cap = max_gap.total_seconds() if max_gap is not None else None
    gaps = [(samples[i + 1][0] - samples[i][0]).total_seconds() for i in range(n - 1)]
    if until is not None:
        last = max(0.0, (until - samples[-1][0]).total_seconds())
    elif gaps:
        last = sorted(gaps)[len(gaps) // 2]
    else:
        last = cap if cap is not None else 1.0
    weights = [*gaps, last]
    if cap is not None:
        weights = [min(w, cap) for w in weights]
    return weights


def time_weighted_mean(samples: Iterable[Sample], **kwargs) -> float | None:
    ordered = _sorted(samples)
    weights = time_weights(ordered, **kwargs)
    total = sum(weights)
    if not ordered:
        return None
    if total <= 0:
        return sum(v for _ts, v in ordered) / len(ordered)
    return sum(v * w for (_ts, v), w in zip(ordered, weights, strict=True)) / total


def deviation_from_setpoint(samples: Iterable[Sample], set_point: float) -> list[Sample]:
    """Each sample's signed deviation from the set point (value − set point), time-sorted."""
    return [(ts, v - set_point) for ts, v in _sorted(samples)]


def window_means(
    samples: Iterable[Sample],
    window: dt.timedelta = WINDOW,
    *,
    max_gap: dt.timedelta | None = None,
    until: dt.datetime | None = None,
) -> list[tuple[dt.datetime, float, float]]:
    """Time-weighted means over consecutive windows aligned to the epoch (like the rollups):
    ``(window start, mean, seconds covered)`` for each window that has data."""
    ordered = _sorted(samples)
    weights = time_weights(ordered, max_gap=max_gap, until=until)
    size = window.total_seconds()
    sums: dict[float, list[float]] = {}
    for (ts, value), weight in zip(ordered, weights, strict=True):
        # Split the hold period of the sample over the windows it covers.
        start = ts.timestamp()
        end = start + weight
        while True:
            window_start = start - start % size
            piece = min(end, window_start + size) - start
            acc = sums.setdefault(window_start, [0.0, 0.0])
            acc[0] += value * piece
            acc[1] += piece
            start += piece
            if start >= end or piece <= 0:
                break
    result = []
    for window_start in sorted(sums):
        total, seconds = sums[window_start]
        if seconds > 0:
            when = dt.datetime.fromtimestamp(window_start, tz=dt.UTC)
            result.append((when, total / seconds, seconds))
    return result


@dataclass(frozen=True)
class Fluctuation:
    """How far a series strays from its set point (JGJ 25-2010 §5.2.3)."""

    max_deviation: float  # largest |window mean − set point| (time-weighted, 5-minute windows)
    low: float  # lowest sample
    high: float  # highest sample
    range: float  # high − low
    mean: float  # time-weighted mean
    peak_deviation: float = 0.0  # largest |sample − set point| (a single reading counts)

    def within(self, swing: float) -> bool:
        return self.max_deviation <= swing + EPSILON


def fluctuation(
    samples: Iterable[Sample],
    set_point: float,
    *,
    window: dt.timedelta = WINDOW,
    max_gap: dt.timedelta | None = None,
    until: dt.datetime | None = None,
) -> Fluctuation | None:
    """Deviation of ``samples`` from ``set_point``, time-weighted: a short spike counts only for
    the share of its window it lasts. ``None`` without samples."""
    ordered = _sorted(samples)
    if not ordered:
        return None
    means = window_means(ordered, window, max_gap=max_gap, until=until)
    values = [v for _ts, v in ordered]
    low, high = min(values), max(values)
    mean = time_weighted_mean(ordered, max_gap=max_gap, until=until)
    peak = max(abs(v - set_point) for v in values)
    return Fluctuation(
        max_deviation=round(max((abs(m - set_point) for _w, m, _s in means), default=peak), 3),
        low=low,
        high=high,
        range=round(high - low, 3),
        mean=round(mean, 3),
        peak_deviation=round(peak, 3),
    )


def sustained_deviation(
    samples: Iterable[Sample],
    set_point: float,
    duration: dt.timedelta,
    *,
    max_gap: dt.timedelta | None = None,
    until: dt.datetime | None = None,
) -> float:
    """The largest deviation from the set point held without a break for at least ``duration``:
    the largest ``d`` such that |value − set point| ≥ ``d`` for a continuous ``duration``
    (0 when no stretch is that long). Gaps longer than ``max_gap`` break a stretch."""
    ordered = _sorted(samples)
    weights = time_weights(ordered, max_gap=max_gap, until=until)
    need = duration.total_seconds()
    deviations = [abs(v - set_point) for _ts, v in ordered]
    starts = [ts.timestamp() for ts, _v in ordered]
    ends = [s + w for s, w in zip(starts, weights, strict=True)]
    # For each last sample j, the shortest run i..j lasting ``need`` has the largest minimum;
    # a monotonic deque keeps the run's minimum deviation (O(n) overall).
    best = 0.0
    first = 0
    run: deque[int] = deque()
    for j in range(len(ordered)):
        if j > 0 and starts[j] > ends[j - 1] + 1e-6:  # a gap longer than max_gap: restart
            first = j
            run.clear()
        while run and deviations[run[-1]] >= deviations[j]:
            run.pop()
        run.append(j)
        while first < j and ends[j] - starts[first + 1] >= need:
            first += 1
            while run[0] < first:
                run.popleft()
        if ends[j] - starts[first] >= need:
            best = max(best, deviations[run[0]])
    return round(best, 3)


def seconds_outside(
    samples: Iterable[Sample],
    low: float,
    high: float,
    *,
    max_gap: dt.timedelta | None = None,
    until: dt.datetime | None = None,
) -> float:
    """Seconds the (held) samples spend below ``low`` or above ``high``."""
    ordered = _sorted(samples)
    weights = time_weights(ordered, max_gap=max_gap, until=until)
    return sum(w for (_ts, v), w in zip(ordered, weights, strict=True) if v < low or v > high)


class RiskTier(models.TextChoices):
    NONE = "none", gettext_lazy("No risk")
    WATCH = "watch", gettext_lazy("Watch")
    HIGH = "high", gettext_lazy("High")


@dataclass(frozen=True)
class MouldRisk:
    tier: str  # RiskTier
    days_to_mould: float | None  # at this humidity, days until mould shows (80–90 %RH: 5 → 1)
    days_left: float | None  # days_to_mould less the time already spent above the threshold


def mould_risk(rh: float | None, hours_above: float = 0.0, *, threshold: float = MOULD_WATCH_RH):
    """Mould risk of a store at ``rh`` %RH that has been above ``threshold`` for ``hours_above``:

    - ``none`` at or below 65 %RH;
    - ``watch`` above 65 %RH: spores can germinate (weeks or more; no estimate given);
    - ``high`` from 80 %RH: mould within 1–5 days — 5 days at 80 %RH, 1 day at 90 %RH and
      above, linear in between (sources in the module constants)."""
    if rh is None or rh <= threshold:
        return MouldRisk(RiskTier.NONE, None, None)
    if rh < MOULD_HIGH_RH:
        return MouldRisk(RiskTier.WATCH, None, None)
    share = min(1.0, (rh - MOULD_HIGH_RH) / (MOULD_FASTEST_RH - MOULD_HIGH_RH))
    days = MOULD_DAYS_AT_HIGH - share * (MOULD_DAYS_AT_HIGH - MOULD_DAYS_AT_FASTEST)
    left = max(0.0, days - max(0.0, hours_above) / 24)
    return MouldRisk(RiskTier.HIGH, round(days, 2), round(left, 2))


@dataclass(frozen=True)
class CondensationRisk:
    tier: str  # RiskTier: high = the surface is at or below the dew point (water condenses)
    margin: float | None  # surface temperature − dew point, °C


def condensation_risk(
    surface_temp: float | None, dew_point: float | None, *, margin: float = 2.0
) -> CondensationRisk:
    """Water condenses on a surface at or below the air's dew point (the definition of the dew
    point; ISO 13788 judges surface condensation the same way). Within ``margin`` °C above it
    (ClimatePolicy.condensation_margin, 2 °C by default) a cold spell or a sensor's error can
    close the gap: ``watch``."""
    if surface_temp is None or dew_point is None:
        return CondensationRisk(RiskTier.NONE, None)
    gap = round(surface_temp - dew_point, 2)
    if gap <= 0:
        return CondensationRisk(RiskTier.HIGH, gap)
    if gap <= margin:
        return CondensationRisk(RiskTier.WATCH, gap)
    return CondensationRisk(RiskTier.NONE, gap)


# --- days in the archive's time zone --------------------------------------------------------


def archive_tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def day_bounds(day: dt.date, tz: dt.tzinfo | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[local midnight, next local midnight) of ``day``, as aware datetimes."""
    tz = tz or archive_tz()
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start, end


def local_day(ts: dt.datetime, tz: dt.tzinfo | None = None) -> dt.date:
    return ts.astimezone(tz or archive_tz()).date()


# --- the daily compliance table -------------------------------------------------------------


class ComplianceStatus(models.TextChoices):
    COMPLIANT = "compliant", gettext_lazy("Compliant")
    NOT_COMPLIANT = "not_compliant", gettext_lazy("Not compliant")
    NO_DATA = "no_data", gettext_lazy("No data")


@dataclass(frozen=True)
class Bucket:
    """One sensor's summary over one rollup bucket (or raw readings folded into 5 minutes)."""

    sensor_id: int
    start: dt.datetime
    seconds: int
    count: int
    temperature: tuple[float | None, float | None, float | None]  # min, max, mean
    humidity: tuple[float | None, float | None, float | None]


@dataclass(frozen=True)
class Measure:
    """Temperature or humidity over one day."""

    unit: str
    set_point: float
    swing: float
    band: tuple[float, float]
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    max_deviation: float | None = None  # largest |5-minute mean − set point|
    minutes_out_of_band: int = 0

    @property
    def has_data(self) -> bool:
        return self.mean is not None

    @property
    def range(self) -> float | None:
        if self.minimum is None or self.maximum is None:
            return None
        return round(self.maximum - self.minimum, 2)

    @property
    def deviation_ok(self) -> bool:
        return self.max_deviation is not None and self.max_deviation <= self.swing + EPSILON

    @property
    def band_ok(self) -> bool:
        return self.minutes_out_of_band == 0

    @property
    def ok(self) -> bool:
        return self.has_data and self.deviation_ok and self.band_ok


@dataclass(frozen=True)
class DayCompliance:
    day: dt.date
    temperature: Measure
    humidity: Measure
    completeness: float | None  # % of the expected readings' time observed; None: nothing due
    minutes_out_of_band: int = 0  # temperature or humidity outside the band (union)
    alarms: int = 0  # alarms raised in the room on this day (archive's time zone)
    reasons: list[str] = field(default_factory=list)  # why not compliant, in words

    @property
    def has_data(self) -> bool:
        return self.temperature.has_data or self.humidity.has_data

    @property
    def status(self) -> str:
        if not self.has_data:
            return ComplianceStatus.NO_DATA
        if self.temperature.ok and self.humidity.ok:
            return ComplianceStatus.COMPLIANT
        return ComplianceStatus.NOT_COMPLIANT

    @property
    def status_label(self) -> str:
        return str(ComplianceStatus(self.status).label)

    @property
    def compliant(self) -> bool:
        return self.status == ComplianceStatus.COMPLIANT


def _measure(
    buckets: list[Bucket], field_name: str, coverage: dict[Bucket, float], policy, unit: str
) -> Measure:
    if field_name == "temperature":
        set_point, swing = policy.temp_set, policy.temp_swing
        band = (policy.temp_min, policy.temp_max)
    else:
        set_point, swing = policy.rh_set, policy.rh_swing
        band = (policy.rh_min, policy.rh_max)
    rows = [(b, getattr(b, field_name)) for b in buckets if getattr(b, field_name)[2] is not None]
    if not rows:
        return Measure(unit=unit, set_point=set_point, swing=swing, band=band)
    lows = [v[0] if v[0] is not None else v[2] for _b, v in rows]
    highs = [v[1] if v[1] is not None else v[2] for _b, v in rows]
    weight = sum(coverage[b] for b, _v in rows)
    if weight > 0:
        mean = sum(v[2] * coverage[b] for b, v in rows) / weight
    else:
        mean = sum(v[2] for _b, v in rows) / len(rows)
    deviation = max(abs(v[2] - set_point) for _b, v in rows)
    # Out of band: the whole slot (5 min, or 1 h for hourly history) counts when any sensor's
    # mean is outside the band (the union over sensors).
    out: dict[dt.datetime, float] = {}
    for b, v in rows:
        if not band[0] <= v[2] <= band[1]:
            out[b.start] = max(out.get(b.start, 0.0), b.seconds)
    return Measure(
        unit=unit,
        set_point=set_point,
        swing=swing,
        band=band,
        minimum=round(min(lows), 2),
        maximum=round(max(highs), 2),
        mean=round(mean, 2),
        max_deviation=round(deviation, 2),
        minutes_out_of_band=round(sum(out.values()) / 60),
    )


def _reasons(temperature: Measure, humidity: Measure) -> list[str]:
    reasons = []
    for label, m in ((_("Temperature"), temperature), (_("Humidity"), humidity)):
        if not m.has_data:
            reasons.append(_("%(what)s: no data") % {"what": label})
            continue
        if not m.deviation_ok:
            reasons.append(
                _("%(what)s %(deviation)s %(unit)s from the set point %(set)s (allowed ±%(swing)s)")
                % {
                    "what": label,
                    "deviation": f"{m.max_deviation:g}",
                    "unit": m.unit,
                    "set": f"{m.set_point:g}",
                    "swing": f"{m.swing:g}",
                }
            )
        if not m.band_ok:
            reasons.append(
                _("%(what)s outside %(low)s–%(high)s %(unit)s for %(minutes)s min")
                % {
                    "what": label,
                    "low": f"{m.band[0]:g}",
                    "high": f"{m.band[1]:g}",
                    "unit": m.unit,
                    "minutes": m.minutes_out_of_band,
                }
            )
    return reasons


def summarise_day(
    day: dt.date,
    buckets: list[Bucket],
    policy: EffectivePolicy,
    *,
    intervals: dict[int, int],
    expected_seconds: float,
    alarms: int = 0,
) -> DayCompliance:
    """The compliance of one day from its buckets (pure: the query layer feeds it).

    ``intervals``: sensor pk → expected reporting interval (s); ``expected_seconds``: the
    sensor-seconds due that day (sensors × elapsed part of the day)."""
    coverage = {
        b: float(min(b.seconds, b.count * intervals.get(b.sensor_id, DEFAULT_INTERVAL)))
        for b in buckets
    }
    temperature = _measure(buckets, "temperature", coverage, policy, "°C")
    humidity = _measure(buckets, "humidity", coverage, policy, "%RH")
    completeness = None
    if expected_seconds > 0:
        completeness = round(min(100.0, 100.0 * sum(coverage.values()) / expected_seconds), 1)
    out: dict[dt.datetime, float] = {}
    for b in buckets:
        t, h = b.temperature[2], b.humidity[2]
        if (t is not None and not policy.temp_min <= t <= policy.temp_max) or (
            h is not None and not policy.rh_min <= h <= policy.rh_max
        ):
            out[b.start] = max(out.get(b.start, 0.0), b.seconds)
    result = DayCompliance(
        day=day,
        temperature=temperature,
        humidity=humidity,
        completeness=completeness,
        minutes_out_of_band=round(sum(out.values()) / 60),
        alarms=alarms,
    )
    if result.has_data and not result.compliant:
        result.reasons.extend(_reasons(temperature, humidity))
    return result


def _bucket_from_aggregate(row) -> Bucket:
    return Bucket(
        sensor_id=row.sensor_id,
        start=row.start,
        seconds=BUCKET_SECONDS[row.bucket],
        count=row.count,
        temperature=(row.temperature_min, row.temperature_max, row.temperature_mean),
        humidity=(row.humidity_min, row.humidity_max, row.humidity_mean),
    )


def _bucket_from_values(row: tuple) -> Bucket:
    sensor_id, bucket, start, count, t_min, t_max, t_mean, h_min, h_max, h_mean = row
    return Bucket(
        sensor_id=sensor_id,
        start=start,
        seconds=BUCKET_SECONDS[bucket],
        count=count,
        temperature=(t_min, t_max, t_mean),
        humidity=(h_min, h_max, h_mean),
    )


AGGREGATE_FIELDS = (
    "sensor_id",
    "bucket",
    "start",
    "count",
    "temperature_min",
    "temperature_max",
    "temperature_mean",
    "humidity_min",
    "humidity_max",
    "humidity_mean",
)


def room_buckets(room, start: dt.datetime, end: dt.datetime) -> list[Bucket]:
    """The room's climate data in [start, end) as buckets: 5-minute rollups before the rollup
    watermark, hourly rollups for sensor-hours with no 5-minute rollup (old or imported
    history), raw readings (folded into 5 minutes) from the watermark on. Three queries."""
    mark = (
        RollupWatermark.objects.filter(bucket=AggregateBucket.FIVE_MINUTES)
        .values_list("until", flat=True)
        .first()
    )
    rolled_until = min(mark, end) if mark is not None else start
    buckets: list[Bucket] = []
    climate = {"room": room, "sensor__kind": SensorKind.CLIMATE}
    if rolled_until > start:
        rows = ReadingAggregate.objects.filter(
            bucket__in=[AggregateBucket.FIVE_MINUTES, AggregateBucket.HOUR],
            start__gte=start,
            start__lt=rolled_until,
            **climate,
        ).values_list(*AGGREGATE_FIELDS)
        five, hourly = [], []
        for row in rows.iterator(chunk_size=5000):
            bucket = _bucket_from_values(row)
            (hourly if bucket.seconds == BUCKET_SECONDS[AggregateBucket.HOUR] else five).append(
                bucket
            )
        covered = {(b.sensor_id, b.start.replace(minute=0)) for b in five}
        buckets += five
        buckets += [b for b in hourly if (b.sensor_id, b.start) not in covered]
    raw_from = max(start, rolled_until)
    if raw_from < end:
        rows = Reading.objects.filter(ts__gte=raw_from, ts__lt=end, **climate).values_list(
            "sensor_id", "room_id", "ts", "temperature", "humidity", "dew_point"
        )
        buckets += [
            _bucket_from_aggregate(a)
            for a in aggregate_rows(rows.iterator(chunk_size=5000), AggregateBucket.FIVE_MINUTES)
        ]
    return buckets


def daily_compliance(
    room, start: dt.date, end: dt.date, *, now: dt.datetime | None = None
) -> list[DayCompliance]:
    """One DayCompliance per calendar day from ``start`` to ``end`` (both included) in the
    archive's time zone (settings.TIME_ZONE), judged against the room's current effective
    policy. A fixed number of queries whatever the number of days."""
    if end < start:
        return []
    tz = archive_tz()
    now = now or timezone.now()
    t0, _end0 = day_bounds(start, tz)
    _start1, t1 = day_bounds(end, tz)
    policy = effective_policy(room, ClimatePolicy.objects.filter(room=room).first())
    buckets = room_buckets(room, t0, t1)
    sensors = {
        s.pk: s
        for s in Sensor.objects.filter(
            models.Q(room=room, kind=SensorKind.CLIMATE, enabled=True)
            | models.Q(pk__in={b.sensor_id for b in buckets})
        )
    }
    intervals = {pk: s.interval_seconds for pk, s in sensors.items()}
    by_day: dict[dt.date, list[Bucket]] = defaultdict(list)
    for b in buckets:
        by_day[local_day(b.start, tz)].append(b)
    alarms_by_day: dict[dt.date, int] = defaultdict(int)
    for raised in Alarm.objects.filter(room=room, raised_at__gte=t0, raised_at__lt=t1).values_list(
        "raised_at", flat=True
    ):
        alarms_by_day[local_day(raised, tz)] += 1
    days = []
    day = start
    while day <= end:
        day_start, day_end = day_bounds(day, tz)
        reporting = {b.sensor_id for b in by_day.get(day, ())}
        expected = 0.0
        for pk, sensor in sensors.items():
            # Due: the room's enabled climate sensors once registered, and any sensor that
            # reported here that day (for the whole day).
            if pk in reporting:
                since = day_start
            elif sensor.room_id == room.pk and sensor.enabled:
                since = max(day_start, sensor.created_at)
            else:
                continue
            expected += max(0.0, (min(day_end, now) - since).total_seconds())
        days.append(
            summarise_day(
                day,
                by_day.get(day, []),
                policy,
                intervals=intervals,
                expected_seconds=expected,
                alarms=alarms_by_day.get(day, 0),
            )
        )
        day += dt.timedelta(days=1)
    return days


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` → (first day, last day). ValueError if malformed."""
    try:
        year, mon = (int(part) for part in month.split("-"))
    except ValueError:
        raise ValueError(month) from None
    if not (2000 <= year <= 2100 and 1 <= mon <= 12):
        raise ValueError(month)
    first = dt.date(year, mon, 1)
    last = dt.date(year + (mon == 12), mon % 12 + 1, 1) - dt.timedelta(days=1)
    return first, last
