"""The alarm engine: climate rules per sensor and room, offline and battery checks, device
alarms (raised by the ingest worker), escalation and reminders.

Each evaluation of a sensor reads ONE snapshot of its recent readings (a single query) and the
rules are pure functions of that snapshot (``decide_climate``): a reading stored meanwhile
can never make two queries disagree (the cause of the crash in ``sustained_for`` that stopped
``make run``). Sustained conditions are judged from the stored readings themselves (not from
in-memory timers), so the engine can restart at any time and several engines give the same
answer; every raise, reminder and escalation is claimed in the database (a partial unique
index on open alarms, conditional updates), so two engines on one database never do it twice.

A failure while evaluating one sensor is logged with the sensor id, counted and skipped; only a
database outage stops a pass (the command's loop retries it).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.models import Max, Min
from django.utils import timezone

from core.messages import ref
from devices.choices import SensorKind, SensorStatus
from devices.models import Sensor
from repository.models import StoreRoom
from storage_env import messages as msg
from storage_env import services
from storage_env.choices import AlarmEventKind, AlarmRule, AlarmState, Severity
from storage_env.messages import number
from storage_env.models import Alarm, AlarmEvent, ClimatePolicy, EffectivePolicy, Reading
from storage_env.models import effective_policy as policy_of

log = logging.getLogger("lantai.alarms")

FRESH = dt.timedelta(minutes=15)
# A reading stamped further ahead than this (a device clock running fast) is not "now".
FUTURE_SKEW = dt.timedelta(minutes=2)
MAX_ESCALATION = 3
POLICY_TTL = 30.0  # seconds before policy changes reach a running engine
# Outages stop a pass (the loop retries); anything else is one sensor's problem.
OUTAGE_ERRORS = (OperationalError, InterfaceError)

Sample = tuple[dt.datetime, float]


# --- pure rules -----------------------------------------------------------------------------
def clean_series(
    rows: Iterable[tuple[dt.datetime, float | None]], now: dt.datetime
) -> list[Sample]:
    """Samples sorted by time: without NULL or non-finite values, without readings from the
    future (beyond ``FUTURE_SKEW``), one value per timestamp (the last one given)."""
    by_ts: dict[dt.datetime, float] = {}
    limit = now + FUTURE_SKEW
    for ts, value in rows:
        if ts is None or value is None or ts > limit:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            by_ts[ts] = number
    return sorted(by_ts.items())


def held_for(
    samples: Sequence[Sample], test: Callable[[float], bool]
) -> tuple[dt.timedelta, float] | None:
    """How long ``test`` has held without a break up to the latest sample (measured between
    samples), with the latest value; ``None`` when it does not hold at the latest sample or
    there is none. ``samples`` come from ``clean_series``."""
    if not samples:
        return None
    latest_ts, latest_value = samples[-1]
    if not test(latest_value):
        return None
    first = latest_ts
    for ts, value in reversed(samples):
        if not test(value):
            break
        first = ts
    return latest_ts - first, latest_value


@dataclass(frozen=True)
class Condition:
    rule: str
    field: str  # "temperature" or "humidity"
    bad: Callable[[float], bool]  # the alarm condition
    good: Callable[[float], bool]  # the clearing condition (with hysteresis)
    sustain: dt.timedelta
    clear_after: dt.timedelta
    severity: str
    message: Callable[[float], dict[str, Any]]  # the value → a message (core.messages.ref)


def _set_points(policy: EffectivePolicy) -> tuple[float, float]:
    """The room's set points (JGJ 25-2010 §5.2.3 "在选定温、湿度后"): chosen per room, by default
    the middle of the template's band."""
    temp_set = getattr(policy, "temp_set", None)
    rh_set = getattr(policy, "rh_set", None)
    if temp_set is None:
        temp_set = (policy.temp_min + policy.temp_max) / 2
    if rh_set is None:
        rh_set = (policy.rh_min + policy.rh_max) / 2
    return temp_set, rh_set


def climate_conditions(policy: EffectivePolicy) -> list[Condition]:
    sustain = dt.timedelta(minutes=policy.sustain_minutes)
    clear = dt.timedelta(minutes=policy.clear_minutes)
    t_low, t_high = policy.temperature_band()
    h_low, h_high = policy.humidity_band()
    th_low, th_high = policy.temperature_band(hysteresis=True)
    hh_low, hh_high = policy.humidity_band(hysteresis=True)
    t_set, h_set = _set_points(policy)
    t_swing, h_swing = policy.temp_swing, policy.rh_swing

    def band(code: str, limit: float) -> Callable[[float], dict[str, Any]]:
        return lambda value: ref(code, limit=number(limit), value=number(value))

    def swing(unit: str, set_point: float, allowed: float) -> Callable[[float], dict[str, Any]]:
        return lambda value: ref(
            msg.SWING,
            set=number(set_point),
            unit=unit,
            deviation=f"{abs(value - set_point):.1f}",
            value=number(value),
            allowed=number(allowed),
        )

    def mould(value: float) -> dict[str, Any]:
        # Above 65 %RH mould spores can germinate; at 80–90 %RH mould shows within 1–5 days
        # (SPEC, store-room climate).
        if value >= 80:
            return ref(msg.MOULD_HIGH, value=number(value))
        return ref(msg.MOULD, value=number(value), limit=number(policy.mould_rh))

    return [
        Condition(
            AlarmRule.TEMPERATURE_HIGH,
            "temperature",
            lambda v: v > t_high,
            lambda v: v <= th_high,
            sustain,
            clear,
            Severity.MAJOR,
            band(msg.TEMP_HIGH, t_high),
        ),
        Condition(
            AlarmRule.TEMPERATURE_LOW,
            "temperature",
            lambda v: v < t_low,
            lambda v: v >= th_low,
            sustain,
            clear,
            Severity.MAJOR,
            band(msg.TEMP_LOW, t_low),
        ),
        Condition(
            AlarmRule.HUMIDITY_HIGH,
            "humidity",
            lambda v: v > h_high,
            lambda v: v <= hh_high,
            sustain,
            clear,
            Severity.MAJOR,
            band(msg.RH_HIGH, h_high),
        ),
        Condition(
            AlarmRule.HUMIDITY_LOW,
            "humidity",
            lambda v: v < h_low,
            lambda v: v >= hh_low,
            sustain,
            clear,
            Severity.MAJOR,
            band(msg.RH_LOW, h_low),
        ),
        # JGJ 25-2010 §5.2.3: once the set points are chosen, the fluctuation within each day
        # and night must not exceed ±2 °C and ±5 %RH — the deviation from the set point,
        # alarmed only when sustained (a single sample never alarms).
        Condition(
            AlarmRule.TEMPERATURE_SWING,
            "temperature",
            lambda v: abs(v - t_set) > t_swing,
            lambda v: abs(v - t_set) <= t_swing - policy.temp_hysteresis,
            sustain,
            clear,
            Severity.MINOR,
            swing("°C", t_set, t_swing),
        ),
        Condition(
            AlarmRule.HUMIDITY_SWING,
            "humidity",
            lambda v: abs(v - h_set) > h_swing,
            lambda v: abs(v - h_set) <= h_swing - policy.rh_hysteresis,
            sustain,
            clear,
            Severity.MINOR,
            swing("%RH", h_set, h_swing),
        ),
        Condition(
            AlarmRule.MOULD_RISK,
            "humidity",
            lambda v: v > policy.mould_rh,
            lambda v: v <= policy.mould_rh - policy.rh_hysteresis,
            dt.timedelta(minutes=policy.mould_minutes),
            clear,
            Severity.CRITICAL,
            mould,
        ),
    ]


def snapshot_window(policy: EffectivePolicy) -> dt.timedelta:
    """How far back a sensor's snapshot must reach for every condition to be judged."""
    longest = max(policy.sustain_minutes, policy.clear_minutes, policy.mould_minutes)
    return dt.timedelta(minutes=longest) + FRESH


@dataclass(frozen=True)
class Decision:
    """What the rules decided for one condition of one sensor."""

    action: str  # "raise" or "clear"
    condition: Condition
    value: float
    held: dt.timedelta  # how long the condition has held


def decide_climate(
    series: dict[str, list[Sample]],
    conditions: Sequence[Condition],
    open_rules: set[str],
) -> list[Decision]:
    """Pure: for each condition, raise (not open, bad for at least ``sustain``) or clear (open,
    good for at least ``clear_after``) from the sensor's samples per field."""
    decisions = []
    for cond in conditions:
        samples = series.get(cond.field) or []
        if cond.rule in open_rules:
            held = held_for(samples, cond.good)
            if held is not None and held[0] >= cond.clear_after:
                decisions.append(Decision("clear", cond, held[1], held[0]))
            continue
        held = held_for(samples, cond.bad)
        if held is not None and held[0] >= cond.sustain:
            decisions.append(Decision("raise", cond, held[1], held[0]))
    return decisions


def sensor_subject(sensor: Sensor) -> str:
    return f"sensor:{sensor.sensor_id}"


@dataclass
class EngineStats:
    sensors_evaluated: int = 0
    failures: int = 0
    last_failure: str = ""
    failed_sensors: dict[str, int] = field(default_factory=dict)


class AlarmEngine:
    def __init__(self) -> None:
        self.policies: dict[int, EffectivePolicy] = {}
        self.loaded_at = 0.0
        self.last_reading_id = 0
        self.stats = EngineStats()

    def load_policies(self) -> None:
        overrides = {p.room_id: p for p in ClimatePolicy.objects.all()}
        self.policies = {
            room.pk: policy_of(room, overrides.get(room.pk)) for room in StoreRoom.objects.all()
        }
        self.loaded_at = time.monotonic()

    def policy_for(self, room_id: int | None) -> EffectivePolicy | None:
        if room_id is None:
            return None
        if room_id not in self.policies or time.monotonic() - self.loaded_at > POLICY_TTL:
            self.load_policies()
        return self.policies.get(room_id)

    def open_subjects(self) -> set[tuple[str, str]]:
        return set(Alarm.objects.open().values_list("rule", "subject"))

    def guarded(self, sensor_id: str, step: Callable[[], None]) -> None:
        """Run one sensor's evaluation; anything but an outage is logged, counted, skipped."""
        try:
            step()
        except OUTAGE_ERRORS:
            raise
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_failure = f"{sensor_id}: {type(exc).__name__}: {exc}"[:300]
            self.stats.failed_sensors[sensor_id] = self.stats.failed_sensors.get(sensor_id, 0) + 1
            log.exception("evaluating sensor %s failed; skipped", sensor_id)

    # --- climate --------------------------------------------------------------------------
    def snapshot(
        self, sensor: Sensor, policy: EffectivePolicy, now: dt.datetime
    ) -> dict[str, list[Sample]]:
        """One query: the sensor's readings over the window every condition needs."""
        rows = list(
            Reading.objects.filter(
                sensor_id=sensor.pk, ts__gte=now - snapshot_window(policy)
            ).values_list("ts", "temperature", "humidity")
        )
        return {
            "temperature": clean_series(((r[0], r[1]) for r in rows), now),
            "humidity": clean_series(((r[0], r[2]) for r in rows), now),
        }

    def evaluate_sensor_climate(
        self, sensor: Sensor, now: dt.datetime, open_alarms: set[tuple[str, str]]
    ) -> None:
        policy = self.policy_for(sensor.room_id)
        if policy is None or sensor.kind != SensorKind.CLIMATE:
            return
        subject = sensor_subject(sensor)
        open_rules = {rule for rule, subj in open_alarms if subj == subject}
        series = self.snapshot(sensor, policy, now)
        for decision in decide_climate(series, climate_conditions(policy), open_rules):
            cond = decision.condition
            if decision.action == "clear":
                services.clear_alarm(cond.rule, subject, now=now, note=f"value {decision.value:g}")
                continue
            notes = []
            if cond.rule in (AlarmRule.TEMPERATURE_SWING, AlarmRule.HUMIDITY_SWING):
                notes += day_range_note(sensor, cond.field, now)
            notes += raised_again_note(cond.rule, subject, since=now - decision.held)
            message = ref(
                msg.SENSOR_SAID,
                sensor=sensor.sensor_id,
                text=cond.message(decision.value),
                notes=notes,
            )
            services.raise_alarm(
                cond.rule,
                subject,
                message=message,
                room_id=sensor.room_id,
                sensor_id=sensor.pk,
                severity=cond.severity,
                value=decision.value,
                now=now,
            )

    def evaluate_condensation(self, room_id: int, now: dt.datetime, open_alarms) -> None:
        policy = self.policy_for(room_id)
        if policy is None:
            return
        subject = f"room:{room_id}"
        surface = (
            Reading.objects.filter(
                room_id=room_id,
                ts__gte=now - FRESH,
                sensor__kind=SensorKind.SURFACE,
                temperature__isnull=False,
            )
            .order_by("-ts")
            .values_list("temperature", flat=True)
            .first()
        )
        dew = (
            Reading.objects.filter(
                room_id=room_id,
                ts__gte=now - FRESH,
                sensor__kind=SensorKind.CLIMATE,
                dew_point__isnull=False,
            )
            .order_by("-ts")
            .values_list("dew_point", flat=True)
            .first()
        )
        if surface is None or dew is None:
            return
        if surface <= dew + policy.condensation_margin:
            services.raise_alarm(
                AlarmRule.CONDENSATION,
                subject,
                message=ref(
                    msg.CONDENSATION,
                    surface=number(surface),
                    margin=number(policy.condensation_margin),
                    dew=number(dew),
                ),
                room_id=room_id,
                severity=Severity.MAJOR,
                value=surface - dew,
                now=now,
            )
        elif (AlarmRule.CONDENSATION, subject) in open_alarms and surface > dew + (
            policy.condensation_margin + 1.0
        ):
            services.clear_alarm(AlarmRule.CONDENSATION, subject, now=now)

    # --- devices --------------------------------------------------------------------------
    def evaluate_device_health(self, sensor: Sensor, now: dt.datetime, open_alarms) -> None:
        subject = sensor_subject(sensor)
        offline = sensor.status == SensorStatus.OFFLINE or sensor.is_overdue(now)
        if offline:
            services.raise_alarm(
                AlarmRule.OFFLINE,
                subject,
                message=ref(
                    msg.OFFLINE_SINCE,
                    sensor=sensor.sensor_id,
                    time=f"{timezone.localtime(sensor.last_seen):%Y-%m-%d %H:%M}",
                )
                if sensor.last_seen
                else ref(msg.OFFLINE_NEVER, sensor=sensor.sensor_id),
                room_id=sensor.room_id,
                sensor_id=sensor.pk,
                severity=Severity.MAJOR,
                now=now,
            )
        elif (AlarmRule.OFFLINE, subject) in open_alarms:
            services.clear_alarm(AlarmRule.OFFLINE, subject, now=now)
        policy = self.policy_for(sensor.room_id)
        threshold = policy.low_battery if policy else 20
        if sensor.battery is not None and sensor.battery < threshold:
            services.raise_alarm(
                AlarmRule.LOW_BATTERY,
                subject,
                message=ref(msg.BATTERY, sensor=sensor.sensor_id, level=sensor.battery),
                room_id=sensor.room_id,
                sensor_id=sensor.pk,
                severity=Severity.MINOR,
                value=sensor.battery,
                now=now,
            )
        elif (
            (AlarmRule.LOW_BATTERY, subject) in open_alarms
            and sensor.battery is not None
            and sensor.battery >= threshold + 5
        ):
            services.clear_alarm(AlarmRule.LOW_BATTERY, subject, now=now)

    # --- escalation -----------------------------------------------------------------------
    def escalate(self, now: dt.datetime) -> None:
        """Escalations and reminders that are due; each is claimed by a conditional update in
        its service, so with several engines each happens once."""
        for alarm in Alarm.objects.filter(
            state=AlarmState.RAISED, escalation_level__lt=MAX_ESCALATION
        ):
            policy = self.policy_for(alarm.room_id)
            minutes = policy.escalate_after_minutes if policy else 30
            since = alarm.escalated_at or alarm.raised_at
            if now - since >= dt.timedelta(minutes=minutes):
                self.guarded(alarm.subject, lambda a=alarm: services.escalate_alarm(a, now=now))
        for alarm in Alarm.objects.filter(state=AlarmState.ACKNOWLEDGED):
            policy = self.policy_for(alarm.room_id)
            minutes = policy.remind_every_minutes if policy else 60
            since = alarm.last_reminded_at or alarm.acknowledged_at or alarm.raised_at
            if minutes and now - since >= dt.timedelta(minutes=minutes):
                self.guarded(alarm.subject, lambda a=alarm: services.remind_alarm(a, now=now))

    # --- passes ---------------------------------------------------------------------------
    def sensors(self):
        return Sensor.objects.filter(enabled=True, room__isnull=False)

    def start_from_latest(self) -> None:
        """The fast path looks only at readings stored from now on."""
        self.last_reading_id = Reading.objects.aggregate(top=Max("id"))["top"] or 0

    def evaluate_new_readings(self, now: dt.datetime | None = None) -> int:
        """Fast path: climate rules for sensors with readings stored since the last call."""
        now = now or timezone.now()
        new = Reading.objects.filter(id__gt=self.last_reading_id)
        top = new.aggregate(top=Max("id"))["top"]
        if top is None:
            return 0
        sensor_pks = set(
            new.filter(id__lte=top).values_list("sensor_id", flat=True).distinct()[:10000]
        )
        self.last_reading_id = top
        open_alarms = self.open_subjects()
        for sensor in self.sensors().filter(pk__in=sensor_pks):
            self.guarded(
                sensor.sensor_id,
                lambda s=sensor: self.evaluate_sensor_climate(s, now, open_alarms),
            )
            self.stats.sensors_evaluated += 1
        return len(sensor_pks)

    def evaluate_all(self, now: dt.datetime | None = None) -> None:
        """Full pass: every rule for every sensor and room, then escalation."""
        now = now or timezone.now()
        self.load_policies()
        if not self.last_reading_id:
            self.last_reading_id = Reading.objects.aggregate(top=Max("id"))["top"] or 0
        open_alarms = self.open_subjects()
        sensors = list(self.sensors())
        for sensor in sensors:
            self.guarded(
                sensor.sensor_id,
                lambda s=sensor: (
                    self.evaluate_sensor_climate(s, now, open_alarms),
                    self.evaluate_device_health(s, now, open_alarms),
                ),
            )
            self.stats.sensors_evaluated += 1
        rooms_with_surface = {s.room_id for s in sensors if s.kind == SensorKind.SURFACE}
        for room_id in rooms_with_surface:
            self.guarded(
                f"room:{room_id}", lambda r=room_id: self.evaluate_condensation(r, now, open_alarms)
            )
        self.escalate(now)


def day_range_note(sensor: Sensor, field_name: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The day's range so far (archive time zone), for the fluctuation alarm's message (a
    list of one message, or none)."""
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    stats = Reading.objects.filter(sensor_id=sensor.pk, ts__gte=start, ts__lte=now).aggregate(
        low=Min(field_name), high=Max(field_name)
    )
    if stats["low"] is None:
        return []
    unit = "°C" if field_name == "temperature" else "%RH"
    return [ref(msg.DAY_RANGE, low=number(stats["low"]), high=number(stats["high"]), unit=unit)]


def raised_again_note(rule: str, subject: str, *, since: dt.datetime) -> list[dict[str, Any]]:
    """A keeper cleared this alarm by hand while its condition went on (it has held since
    ``since``, before the clear): say so instead of raising again silently."""
    last = (
        Alarm.objects.filter(
            rule=rule, subject=subject, state=AlarmState.CLEARED, cleared_at__gte=since
        )
        .order_by("-cleared_at")
        .first()
    )
    if last is None:
        return []
    by_hand = AlarmEvent.objects.filter(
        alarm=last, kind=AlarmEventKind.CLEARED, actor__isnull=False
    ).exists()
    if not by_hand:
        return []
    return [ref(msg.RAISED_AGAIN)]
