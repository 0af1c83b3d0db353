"""The alarm engine: climate rules per sensor and room, offline and battery checks, device
alarms (raised by the ingest worker), escalation and reminders.

Sustained conditions are judged from the stored readings themselves (not from in-memory
timers), so the engine can restart at any time and several evaluations give the same answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.db.models import Avg, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from devices.choices import SensorKind, SensorStatus
from devices.models import Sensor
from repository.models import StoreRoom
from storage_env import services
from storage_env.choices import AlarmRule, AlarmState, Severity
from storage_env.models import Alarm, ClimatePolicy, EffectivePolicy, Reading, effective_policy

log = logging.getLogger("lantai.alarms")

LOOKBACK = dt.timedelta(days=2)
FRESH = dt.timedelta(minutes=15)
MAX_ESCALATION = 3
POLICY_TTL = 30.0  # seconds before policy changes reach a running engine


@dataclass(frozen=True)
class Condition:
    rule: str
    field: str
    bad: Q  # the alarm condition
    good: Q  # the clearing condition (with hysteresis)
    sustain: dt.timedelta
    clear_after: dt.timedelta
    severity: str
    message: str


def sustained_for(
    sensor_pk: int, field: str, condition: Q, now: dt.datetime
) -> tuple[dt.timedelta, float] | None:
    """How long ``condition`` has held without a break up to the latest reading of the sensor
    (measured between readings), with the latest value; ``None`` when it does not hold now."""
    readings = Reading.objects.filter(
        sensor_id=sensor_pk, ts__gte=now - LOOKBACK, **{f"{field}__isnull": False}
    )
    latest = readings.order_by("-ts").values_list("ts", field).first()
    if latest is None or not readings.filter(condition, ts=latest[0]).exists():
        return None
    last_break = readings.exclude(condition).order_by("-ts").values_list("ts", flat=True).first()
    since = readings.filter(condition)
    if last_break is not None:
        since = since.filter(ts__gt=last_break)
    first = since.order_by("ts").values_list("ts", flat=True).first()
    return latest[0] - first, latest[1]


def climate_conditions(policy: EffectivePolicy) -> list[Condition]:
    sustain = dt.timedelta(minutes=policy.sustain_minutes)
    clear = dt.timedelta(minutes=policy.clear_minutes)
    t_low, t_high = policy.temperature_band()
    h_low, h_high = policy.humidity_band()
    th_low, th_high = policy.temperature_band(hysteresis=True)
    hh_low, hh_high = policy.humidity_band(hysteresis=True)
    return [
        Condition(
            AlarmRule.TEMPERATURE_HIGH,
            "temperature",
            Q(temperature__gt=t_high),
            Q(temperature__lte=th_high),
            sustain,
            clear,
            Severity.MAJOR,
            _("temperature above %(limit)s °C") % {"limit": f"{t_high:g}"},
        ),
        Condition(
            AlarmRule.TEMPERATURE_LOW,
            "temperature",
            Q(temperature__lt=t_low),
            Q(temperature__gte=th_low),
            sustain,
            clear,
            Severity.MAJOR,
            _("temperature below %(limit)s °C") % {"limit": f"{t_low:g}"},
        ),
        Condition(
            AlarmRule.HUMIDITY_HIGH,
            "humidity",
            Q(humidity__gt=h_high),
            Q(humidity__lte=hh_high),
            sustain,
            clear,
            Severity.MAJOR,
            _("humidity above %(limit)s %%RH") % {"limit": f"{h_high:g}"},
        ),
        Condition(
            AlarmRule.HUMIDITY_LOW,
            "humidity",
            Q(humidity__lt=h_low),
            Q(humidity__gte=hh_low),
            sustain,
            clear,
            Severity.MAJOR,
            _("humidity below %(limit)s %%RH") % {"limit": f"{h_low:g}"},
        ),
        Condition(
            AlarmRule.MOULD_RISK,
            "humidity",
            Q(humidity__gt=policy.mould_rh),
            Q(humidity__lte=policy.mould_rh - policy.rh_hysteresis),
            dt.timedelta(minutes=policy.mould_minutes),
            clear,
            Severity.CRITICAL,
            _("mould risk: humidity above %(limit)s %%RH") % {"limit": f"{policy.mould_rh:g}"},
        ),
    ]


def sensor_subject(sensor: Sensor) -> str:
    return f"sensor:{sensor.sensor_id}"


class AlarmEngine:
    def __init__(self) -> None:
        self.policies: dict[int, EffectivePolicy] = {}
        self.loaded_at = 0.0
        self.last_reading_id = 0

    def load_policies(self) -> None:
        overrides = {p.room_id: p for p in ClimatePolicy.objects.all()}
        self.policies = {
            room.pk: effective_policy(room, overrides.get(room.pk))
            for room in StoreRoom.objects.all()
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

    # --- climate --------------------------------------------------------------------------
    def evaluate_sensor_climate(
        self, sensor: Sensor, now: dt.datetime, open_alarms: set[tuple[str, str]]
    ) -> None:
        policy = self.policy_for(sensor.room_id)
        if policy is None or sensor.kind != SensorKind.CLIMATE:
            return
        subject = sensor_subject(sensor)
        for cond in climate_conditions(policy):
            is_open = (cond.rule, subject) in open_alarms
            if is_open:
                held = sustained_for(sensor.pk, cond.field, cond.good, now)
                if held is not None and held[0] >= cond.clear_after:
                    services.clear_alarm(cond.rule, subject, now=now, note=f"value {held[1]:g}")
                continue
            held = sustained_for(sensor.pk, cond.field, cond.bad, now)
            if held is not None and held[0] >= cond.sustain:
                services.raise_alarm(
                    cond.rule,
                    subject,
                    message=f"{sensor.sensor_id}: {cond.message} ({held[1]:g})",
                    room_id=sensor.room_id,
                    sensor_id=sensor.pk,
                    severity=cond.severity,
                    value=held[1],
                    now=now,
                )

    def evaluate_fluctuation(
        self, sensor: Sensor, now: dt.datetime, open_alarms: set[tuple[str, str]]
    ) -> None:
        policy = self.policy_for(sensor.room_id)
        if policy is None or sensor.kind != SensorKind.CLIMATE:
            return
        stats = Reading.objects.filter(
            sensor_id=sensor.pk, ts__gte=now - dt.timedelta(hours=24)
        ).aggregate(
            t_min=Min("temperature"),
            t_max=Max("temperature"),
            t_avg=Avg("temperature"),
            h_min=Min("humidity"),
            h_max=Max("humidity"),
            h_avg=Avg("humidity"),
        )
        subject = sensor_subject(sensor)
        for rule, low, high, mean, swing, unit in (
            (
                AlarmRule.TEMPERATURE_SWING,
                stats["t_min"],
                stats["t_max"],
                stats["t_avg"],
                policy.temp_swing,
                "°C",
            ),
            (
                AlarmRule.HUMIDITY_SWING,
                stats["h_min"],
                stats["h_max"],
                stats["h_avg"],
                policy.rh_swing,
                "%RH",
            ),
        ):
            if mean is None:
                continue
            deviation = round(max(high - mean, mean - low), 2)
            if deviation > swing:
                services.raise_alarm(
                    rule,
                    subject,
                    message=_("%(sensor)s: 24 h swing ±%(deviation)s %(unit)s > ±%(swing)s")
                    % {
                        "sensor": sensor.sensor_id,
                        "deviation": f"{deviation:g}",
                        "unit": unit,
                        "swing": f"{swing:g}",
                    },
                    room_id=sensor.room_id,
                    sensor_id=sensor.pk,
                    severity=Severity.MINOR,
                    value=deviation,
                    now=now,
                )
            elif (rule, subject) in open_alarms:
                services.clear_alarm(rule, subject, now=now)

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
                message=_("surface %(surface)s °C within %(margin)s °C of the dew point %(dew)s °C")
                % {
                    "surface": f"{surface:g}",
                    "margin": f"{policy.condensation_margin:g}",
                    "dew": f"{dew:g}",
                },
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
                message=_("%(sensor)s: no data since %(time)s")
                % {
                    "sensor": sensor.sensor_id,
                    "time": f"{timezone.localtime(sensor.last_seen):%Y-%m-%d %H:%M}",
                }
                if sensor.last_seen
                else _("%(sensor)s: no data yet") % {"sensor": sensor.sensor_id},
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
                message=_("%(sensor)s: battery %(level)s %%")
                % {"sensor": sensor.sensor_id, "level": sensor.battery},
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
        for alarm in Alarm.objects.filter(
            state=AlarmState.RAISED, escalation_level__lt=MAX_ESCALATION
        ):
            policy = self.policy_for(alarm.room_id)
            minutes = policy.escalate_after_minutes if policy else 30
            since = alarm.escalated_at or alarm.raised_at
            if now - since >= dt.timedelta(minutes=minutes):
                services.escalate_alarm(alarm, now=now)
        for alarm in Alarm.objects.filter(state=AlarmState.ACKNOWLEDGED):
            policy = self.policy_for(alarm.room_id)
            minutes = policy.remind_every_minutes if policy else 60
            since = alarm.last_reminded_at or alarm.acknowledged_at or alarm.raised_at
            if minutes and now - since >= dt.timedelta(minutes=minutes):
                services.remind_alarm(alarm, now=now)

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
            self.evaluate_sensor_climate(sensor, now, open_alarms)
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
            self.evaluate_sensor_climate(sensor, now, open_alarms)
            self.evaluate_fluctuation(sensor, now, open_alarms)
            self.evaluate_device_health(sensor, now, open_alarms)
        rooms_with_surface = {s.room_id for s in sensors if s.kind == SensorKind.SURFACE}
        for room_id in rooms_with_surface:
            self.evaluate_condensation(room_id, now, open_alarms)
        self.escalate(now)
