"""Readings, aggregates, climate policies and alarms of the store rooms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.messages import render, supported_language
from repository.choices import CLIMATE_RANGES, RoomTemplate
from storage_env.choices import (
    OPEN_STATES,
    AggregateBucket,
    AlarmEventKind,
    AlarmRule,
    AlarmState,
    ChannelKind,
    DeliveryState,
    NotificationEvent,
    Severity,
)
from storage_env.roles import can_watch_climate


class ReadingQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReadingQuerySet:
        """The readings door: every room's readings for climate watchers, none for anyone else
        (pages, API, CSV and the live dashboard all answer to ``can_watch_climate``)."""
        return self if can_watch_climate(user) else self.none()


class Reading(models.Model):
    """One calibrated measurement; (sensor, ts) is unique so redelivery never duplicates."""

    id = models.BigAutoField(primary_key=True)
    # No single-column FK indexes: (sensor, ts) and (room, ts) serve those lookups, and every
    # index costs on the hot insert path.
    sensor = models.ForeignKey(
        "devices.Sensor", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    room = models.ForeignKey(
        "repository.StoreRoom",
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        db_index=False,
    )
    ts = models.DateTimeField(_("measured at"))
    temperature = models.FloatField(_("temperature (°C)"), null=True)
    humidity = models.FloatField(_("relative humidity (%RH)"), null=True)
    dew_point = models.FloatField(_("dew point (°C)"), null=True)
    battery = models.PositiveSmallIntegerField(null=True)
    seq = models.BigIntegerField(null=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # the device sent no time: ``ts`` is when the message arrived (a sensor source's
    # ``when_missing: receive``), so it is as good as the network and may repeat on redelivery
    ts_received = models.BooleanField(_("time taken on receipt"), default=False, db_default=False)

    objects = ReadingQuerySet.as_manager()

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            # Its index also serves (sensor, time) range queries.
            models.UniqueConstraint(fields=["sensor", "ts"], name="reading_sensor_ts_uniq")
        ]
        indexes = [
            models.Index(fields=["room", "ts"], name="reading_room_ts_idx"),
            # The time index for the retention job is made in migration 0002: BRIN on
            # PostgreSQL (tiny, nearly free to maintain on an append-only table), B-tree elsewhere.
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.ts:%Y-%m-%d %H:%M:%S} {self.temperature} {self.humidity}"


class ReadingAggregate(models.Model):
    """Min/max/mean of one sensor over a 5-minute or hourly bucket, for charts and reports."""

    sensor = models.ForeignKey(
        "devices.Sensor", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    room = models.ForeignKey(
        "repository.StoreRoom",
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        db_index=False,
    )
    bucket = models.CharField(max_length=2, choices=AggregateBucket.choices)
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    temperature_min = models.FloatField(null=True)
    temperature_max = models.FloatField(null=True)
    temperature_mean = models.FloatField(null=True)
    humidity_min = models.FloatField(null=True)
    humidity_max = models.FloatField(null=True)
    humidity_mean = models.FloatField(null=True)
    dew_point_mean = models.FloatField(null=True)

    class Meta:
        verbose_name = _("reading aggregate")
        verbose_name_plural = _("reading aggregates")
        constraints = [
            models.UniqueConstraint(
                fields=["sensor", "bucket", "start"], name="aggregate_sensor_bucket_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["room", "bucket", "start"], name="aggregate_room_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id} {self.bucket} {self.start:%Y-%m-%d %H:%M}"


class RollupWatermark(models.Model):
    """Up to where (exclusive) each bucket size has been rolled up."""

    bucket = models.CharField(max_length=2, choices=AggregateBucket.choices, primary_key=True)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.bucket} until {self.until}"


@dataclass(frozen=True)
class EffectivePolicy:
    temp_min: float
    temp_max: float
    rh_min: float
    rh_max: float
    # The chosen set points (在选定温、湿度后, JGJ 25-2010 §5.2.3); the middle of the band
    # when the room has none.
    temp_set: float
    rh_set: float
    # Allowed deviation from the set points per day and night: ±2 °C, ±5 %RH (§5.2.3).
    temp_swing: float
    rh_swing: float
    sustain_minutes: int
    clear_minutes: int
    temp_hysteresis: float
    rh_hysteresis: float
    mould_rh: float
    mould_minutes: int
    condensation_margin: float
    low_battery: int
    escalate_after_minutes: int
    remind_every_minutes: int

    def temperature_band(self, hysteresis: bool = False) -> tuple[float, float]:
        h = self.temp_hysteresis if hysteresis else 0.0
        return self.temp_min + h, self.temp_max - h

    def humidity_band(self, hysteresis: bool = False) -> tuple[float, float]:
        h = self.rh_hysteresis if hysteresis else 0.0
        return self.rh_min + h, self.rh_max - h

    def temperature_set_band(self) -> tuple[float, float]:
        """Set point ± allowed fluctuation (JGJ 25-2010 §5.2.3)."""
        return self.temp_set - self.temp_swing, self.temp_set + self.temp_swing


class ClimatePolicy(models.Model):
    """Per-room climate rules: ranges from the room template unless overridden here."""

    room = models.OneToOneField(
        "repository.StoreRoom", on_delete=models.CASCADE, related_name="climate_policy"
    )
    temp_min = models.FloatField(_("minimum temperature (°C)"), null=True, blank=True)
    temp_max = models.FloatField(_("maximum temperature (°C)"), null=True, blank=True)
    rh_min = models.FloatField(_("minimum humidity (%RH)"), null=True, blank=True)
    rh_max = models.FloatField(_("maximum humidity (%RH)"), null=True, blank=True)
    # 选定温、湿度 (JGJ 25-2010 §5.2.3); empty = the middle of the band.
    temp_set = models.FloatField(_("temperature set point (°C)"), null=True, blank=True)
    rh_set = models.FloatField(_("humidity set point (%RH)"), null=True, blank=True)
    temp_swing = models.FloatField(_("allowed 24 h temperature swing (±°C)"), null=True, blank=True)
    rh_swing = models.FloatField(_("allowed 24 h humidity swing (±%RH)"), null=True, blank=True)
    sustain_minutes = models.PositiveIntegerField(_("out of range for (minutes)"), default=10)
    clear_minutes = models.PositiveIntegerField(_("back in range for (minutes)"), default=5)
    temp_hysteresis = models.FloatField(_("temperature hysteresis (°C)"), default=0.5)
    rh_hysteresis = models.FloatField(_("humidity hysteresis (%RH)"), default=2.0)
    mould_rh = models.FloatField(_("mould risk above (%RH)"), default=65.0)
    mould_minutes = models.PositiveIntegerField(_("mould risk sustained (minutes)"), default=60)
    condensation_margin = models.FloatField(_("condensation margin (°C)"), default=2.0)
    low_battery = models.PositiveSmallIntegerField(_("low battery below (%)"), default=20)
    escalate_after_minutes = models.PositiveIntegerField(
        _("escalate unacknowledged alarms after (minutes)"), default=30
    )
    remind_every_minutes = models.PositiveIntegerField(_("remind every (minutes)"), default=60)

    class Meta:
        verbose_name = _("climate policy")
        verbose_name_plural = _("climate policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(temp_min__isnull=True)
                | Q(temp_max__isnull=True)
                | Q(temp_min__lt=models.F("temp_max")),
                name="policy_temp_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(rh_min__isnull=True)
                | Q(rh_max__isnull=True)
                | Q(rh_min__lt=models.F("rh_max")),
                name="policy_rh_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room}"

    def effective(self) -> EffectivePolicy:
        return effective_policy(self.room, self)

    def clean(self) -> None:
        """Refuse a set point outside the room's (effective) band, and an empty band."""
        super().clean()
        template = self.room.template if self.room_id else RoomTemplate.PAPER
        errors = set_point_errors(template, self)
        if errors:
            raise ValidationError(errors)


DEFAULT_POLICY = ClimatePolicy()


def _pick(value, default):
    return default if value is None else value


def effective_band(template: str, policy) -> tuple[float, float, float, float]:
    """(temp_min, temp_max, rh_min, rh_max): the template's ranges with the overrides."""
    base = CLIMATE_RANGES.get(template, CLIMATE_RANGES[RoomTemplate.PAPER])
    return (
        _pick(policy.temp_min, base.temp_min),
        _pick(policy.temp_max, base.temp_max),
        _pick(policy.rh_min, base.rh_min),
        _pick(policy.rh_max, base.rh_max),
    )


def set_point_errors(template: str, policy) -> dict[str, list[str]]:
    """Why ``policy``'s band or set points cannot stand (field → messages); {} when fine.

    JGJ 25-2010 §5.2.3 measures the fluctuation around the chosen set point and tables
    5.2.1/5.2.2 give the band the room must keep: a set point outside the band is refused."""
    t_min, t_max, h_min, h_max = effective_band(template, policy)
    errors: dict[str, list[str]] = {}
    if t_min >= t_max:
        errors["temp_max"] = [str(_("The maximum temperature must be above the minimum."))]
    if h_min >= h_max:
        errors["rh_max"] = [str(_("The maximum humidity must be above the minimum."))]
    for field, value, low, high, unit in (
        ("temp_set", policy.temp_set, t_min, t_max, "°C"),
        ("rh_set", policy.rh_set, h_min, h_max, "%RH"),
    ):
        if value is not None and not low <= value <= high:
            errors.setdefault(field, []).append(
                str(_("The set point %(value)s %(unit)s is outside the band %(low)s–%(high)s."))
                % {
                    "value": f"{value:g}",
                    "unit": unit,
                    "low": f"{low:g}",
                    "high": f"{high:g} {unit}",
                }
            )
    return errors


def effective_policy(room, policy: ClimatePolicy | None = None) -> EffectivePolicy:
    """The room template's ranges (repository.choices.CLIMATE_RANGES) with the room's overrides
    applied; the set points default to the middle of the band."""
    base = CLIMATE_RANGES.get(room.template, CLIMATE_RANGES[RoomTemplate.PAPER])
    p = policy or DEFAULT_POLICY
    pick = _pick
    t_min, t_max, h_min, h_max = effective_band(room.template, p)

    return EffectivePolicy(
        temp_min=t_min,
        temp_max=t_max,
        rh_min=h_min,
        rh_max=h_max,
        temp_set=pick(p.temp_set, round((t_min + t_max) / 2, 1)),
        rh_set=pick(p.rh_set, round((h_min + h_max) / 2, 1)),
        temp_swing=pick(p.temp_swing, base.temp_swing),
        rh_swing=pick(p.rh_swing, base.rh_swing),
        sustain_minutes=p.sustain_minutes,
        clear_minutes=p.clear_minutes,
        temp_hysteresis=p.temp_hysteresis,
        rh_hysteresis=p.rh_hysteresis,
        mould_rh=p.mould_rh,
        mould_minutes=p.mould_minutes,
        condensation_margin=p.condensation_margin,
        low_battery=p.low_battery,
        escalate_after_minutes=p.escalate_after_minutes,
        remind_every_minutes=p.remind_every_minutes,
    )


class AlarmQuerySet(models.QuerySet):
    def visible_to(self, user) -> AlarmQuerySet:
        """The alarms door: every room's alarms for climate watchers, none for anyone else."""
        return self if can_watch_climate(user) else self.none()

    def open(self) -> AlarmQuerySet:
        return self.filter(state__in=OPEN_STATES)

    def active(self) -> AlarmQuerySet:
        """Not yet closed (raised, acknowledged or cleared)."""
        return self.exclude(state=AlarmState.CLOSED)


class Alarm(models.Model):
    """告警: one open alarm per rule and subject (a room, a sensor, a device alarm code)."""

    rule = models.CharField(_("rule"), max_length=16, choices=AlarmRule.choices)
    subject = models.CharField(_("subject"), max_length=120)  # e.g. "sensor:TH-01"
    room = models.ForeignKey(
        "repository.StoreRoom",
        on_delete=models.CASCADE,
        null=True,
        related_name="alarms",
        verbose_name=_("store room"),
    )
    sensor = models.ForeignKey(
        "devices.Sensor",
        on_delete=models.SET_NULL,
        null=True,
        related_name="alarms",
        verbose_name=_("sensor"),
    )
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.MAJOR
    )
    state = models.CharField(
        _("state"), max_length=12, choices=AlarmState.choices, default=AlarmState.RAISED
    )
    # The text is stored as a message code and parameters (core.messages) and rendered in the
    # reader's language (``text_in``). ``message`` keeps it rendered in the archive's language
    # (the search and fallback copy); with no code it is the text itself: a device's own
    # words, shown as sent, and the rows from before codes.
    message = models.CharField(_("message"), max_length=300)
    message_code = models.CharField(_("message code"), max_length=80, blank=True, default="")
    message_params = models.JSONField(_("message parameters"), default=dict, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    code = models.CharField(_("device alarm code"), max_length=40, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledge_note = models.CharField(_("acknowledgement note"), max_length=500, blank=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = AlarmQuerySet.as_manager()

    class Meta:
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=Q(state__in=["raised", "acknowledged"]),
                name="alarm_one_open_per_rule_subject",
            )
        ]
        indexes = [
            models.Index(fields=["state", "raised_at"], name="alarm_state_idx"),
            models.Index(fields=["room", "state"], name="alarm_room_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} {self.subject} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def text_in(self, language: str | None = None) -> str:
        """The alarm's text in ``language`` (default: the active one, i.e. the reader's)."""
        if not self.message_code:
            return self.message
        return render(self.message_code, self.message_params, language, fallback=self.message)

    @property
    def display_message(self) -> str:
        """The alarm's text in the active language (pages, API, exports)."""
        return self.text_in()

    def message_ref(self) -> dict[str, Any]:
        """How a push carries the text so each reader's connection renders it (core.messages)."""
        return {"code": self.message_code, "params": self.message_params, "fallback": self.message}


class AlarmEvent(models.Model):
    """History of an alarm: every transition, escalation and reminder."""

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=AlarmEventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("alarm event")
        verbose_name_plural = _("alarm events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alarm_id} {self.kind} {self.at}"


def validate_event_list(value: str) -> None:
    """A comma list of notification events (raised, escalated, reminded, cleared), at least one."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise ValidationError(_("Choose at least one event."), code="required")
    unknown = sorted(set(names) - set(NotificationEvent.values))
    if unknown:
        raise ValidationError(
            _("Unknown events: %(names)s (known: %(known)s).")
            % {"names": ", ".join(unknown), "known": ", ".join(NotificationEvent.values)},
            code="invalid",
        )


class NotificationChannel(models.Model):
    """通知渠道: where store-room alarms are told beyond the page notice (e-mail, webhook, robots).

    ``target`` is comma-separated e-mail addresses for e-mail, else the webhook URL (a WeCom
    robot's key or a DingTalk robot's access_token is part of it, so it is never logged whole).
    """

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=ChannelKind.choices)
    target = models.CharField(_("addresses or URL"), max_length=1000)
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_("DingTalk only: the robot's signing secret (SEC…) when it signs."),
    )
    rooms = models.ManyToManyField(
        "repository.StoreRoom",
        blank=True,
        related_name="notification_channels",
        verbose_name=_("store rooms"),
        help_text=_("None chosen: every store room."),
    )
    min_severity = models.CharField(
        _("minimum severity"), max_length=8, choices=Severity.choices, default=Severity.MINOR
    )
    events = models.CharField(
        _("events"),
        max_length=100,
        default=",".join(NotificationEvent.values),
        validators=[validate_event_list],
    )
    # Who reads this channel: its messages are written in their language.
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_("The language its messages are written in; empty: the archive's language."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def reader_language(self) -> str:
        """The language its messages are written in (the archive's when none is chosen)."""
        return supported_language(self.language)

    @property
    def event_list(self) -> list[str]:
        return [name.strip() for name in self.events.split(",") if name.strip()]

    @property
    def recipients(self) -> list[str]:
        return [address.strip() for address in self.target.split(",") if address.strip()]

    def clean(self) -> None:
        """The target must suit the kind: e-mail addresses, or an http(s) URL without a user
        name or password in it (tokens belong in the path or query, never logged whole)."""
        self.target = self.target.strip()
        if self.kind == ChannelKind.EMAIL:
            if not self.recipients:
                raise ValidationError({"target": _("Enter at least one e-mail address.")})
            bad = []
            for address in self.recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    bad.append(address)
            if bad:
                raise ValidationError(
                    {
                        "target": _("Not a valid e-mail address: %(addresses)s.")
                        % {"addresses": ", ".join(bad)}
                    }
                )
            self.target = ", ".join(self.recipients)
        elif self.kind:
            parts = urlsplit(self.target)
            if parts.scheme not in ("http", "https"):
                raise ValidationError(
                    {"target": _("The address must start with http:// or https://.")}
                )
            try:
                URLValidator(schemes=["http", "https"])(self.target)
            except ValidationError:
                raise ValidationError({"target": _("Enter a complete web address.")}) from None
            if parts.username or parts.password:
                raise ValidationError({"target": _("Put no user name or password in the address.")})
        if self.kind != ChannelKind.DINGTALK:
            self.secret = ""  # only DingTalk robots sign


class NotificationDelivery(models.Model):
    """One message of one alarm event to one channel. ``sequence`` numbers repeated events of
    an alarm (the 2nd reminder is a new delivery); the same event is never enqueued twice."""

    alarm = models.ForeignKey(
        Alarm, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("alarm")
    )
    event = models.CharField(_("event"), max_length=10, choices=NotificationEvent.choices)
    sequence = models.PositiveIntegerField(_("event number"), default=1)
    channel = models.ForeignKey(
        NotificationChannel,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("channel"),
    )
    state = models.CharField(
        _("state"), max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alarm", "event", "channel", "sequence"],
                name="notification_delivery_once",
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="notification_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alarm_id} {self.event}#{self.sequence} → {self.channel_id} ({self.state})"
