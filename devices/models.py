"""Sensor registry, sensors seen but not registered, rejected messages, and ingest state."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devices.choices import (
    DeadLetterReason,
    SensorIdFrom,
    SensorKind,
    SensorStatus,
    SourceProfile,
)

SENSOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
sensor_id_validator = RegexValidator(SENSOR_ID_PATTERN, _("Use letters, digits, '_', '.', '-'."))


class Sensor(models.Model):
    """传感器: one registered device; readings are accepted only from registered, enabled ones."""

    sensor_id = models.CharField(
        _("sensor id"), max_length=64, unique=True, validators=[sensor_id_validator]
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=SensorKind.choices, default=SensorKind.CLIMATE
    )
    room = models.ForeignKey(
        "repository.StoreRoom",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sensors",
        verbose_name=_("store room"),
    )
    location_note = models.CharField(_("position in the room"), max_length=100, blank=True)
    temperature_offset = models.FloatField(
        _("temperature calibration offset (°C)"),
        default=0.0,
        validators=[MinValueValidator(-10), MaxValueValidator(10)],
    )
    humidity_offset = models.FloatField(
        _("humidity calibration offset (%RH)"),
        default=0.0,
        validators=[MinValueValidator(-20), MaxValueValidator(20)],
    )
    interval_seconds = models.PositiveIntegerField(
        _("expected reporting interval (s)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    battery = models.PositiveSmallIntegerField(_("battery (%)"), null=True, blank=True)
    firmware = models.CharField(_("firmware"), max_length=40, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=SensorStatus.choices, default=SensorStatus.UNKNOWN
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        ordering = ["sensor_id"]

    def __str__(self) -> str:
        return self.sensor_id

    def is_overdue(self, now=None) -> bool:
        """No data for three times the expected interval."""
        now = now or timezone.now()
        reference = self.last_seen or self.created_at
        return (now - reference).total_seconds() > 3 * self.interval_seconds


class RegistryVersion(models.Model):
    """Rows counting changes: the ingest worker caches and drops its cache when the number
    moves. Row ``SENSORS`` (1) is bumped on every save or delete of a Sensor, row ``SOURCES``
    (2) on every change of a SensorSource (the worker then reloads its sources and
    subscriptions without a restart)."""

    SENSORS = 1
    SOURCES = 2

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("sensor registry version")
        verbose_name_plural = _("sensor registry versions")

    def __str__(self) -> str:
        return str(self.version)

    @classmethod
    def bump(cls, row: int = SENSORS) -> None:
        if not cls.objects.filter(pk=row).update(version=models.F("version") + 1):
            cls.objects.get_or_create(pk=row, defaults={"version": 1})

    @classmethod
    def current(cls, row: int = SENSORS) -> int:
        return cls.objects.filter(pk=row).values_list("version", flat=True).first() or 0


class DiscoveredSensor(models.Model):
    """A sensor id that published but is not registered: waits for an administrator."""

    sensor_id = models.CharField(_("sensor id"), max_length=64, unique=True)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    message_count = models.PositiveIntegerField(_("messages"), default=0)
    last_topic = models.CharField(_("last topic"), max_length=255, blank=True)
    last_payload = models.TextField(_("last payload"), blank=True)

    class Meta:
        verbose_name = _("discovered sensor")
        verbose_name_plural = _("discovered sensors")
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.sensor_id


class DeadLetter(models.Model):
    """An MQTT message that was rejected, with its raw payload, topic and the reason."""

    PAYLOAD_KEEP_BYTES = 64 * 1024

    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    topic = models.CharField(_("topic"), max_length=255)
    sensor_id = models.CharField(_("sensor id"), max_length=64, blank=True)
    payload = models.BinaryField(_("raw payload (first 64 KiB)"))
    payload_size = models.PositiveIntegerField(_("payload size (bytes)"))
    reason = models.CharField(_("reason"), max_length=20, choices=DeadLetterReason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    # the sensor source whose topics it came on ("" for Lantai's own contract)
    source = models.CharField(_("source"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["reason", "received_at"], name="deadletter_reason_idx")]

    def __str__(self) -> str:
        return f"{self.topic}: {self.reason}"


class IngestState(models.Model):
    """Counters and heartbeat of one ingest worker (by client id); /healthz reads it."""

    client_id = models.CharField(max_length=64, primary_key=True)
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    connected = models.BooleanField(default=False)
    received = models.BigIntegerField(default=0)
    stored = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    dead_lettered = models.BigIntegerField(default=0)
    refused = models.BigIntegerField(default=0)  # dropped while the database was down
    buffered = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("ingest worker state")
        verbose_name_plural = _("ingest worker states")

    def __str__(self) -> str:
        return self.client_id


class SensorSource(models.Model):
    """数据源: where off-the-shelf devices publish and how their messages become readings
    (``devices.mqtt.sources``). Defined and changed only through ``devices.services``, which
    refuses a mapping that could never work and tells the running ingest worker."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=False)
    profile = models.CharField(
        _("profile"), max_length=20, choices=SourceProfile.choices, default=SourceProfile.GENERIC
    )
    # one MQTT topic filter per line (wildcards + and #)
    topic_filters = models.TextField(_("topic filters"))
    sensor_id_from = models.CharField(
        _("sensor id from"), max_length=8, choices=SensorIdFrom.choices, default=SensorIdFrom.TOPIC
    )
    sensor_id_level = models.PositiveSmallIntegerField(
        _("sensor id topic level"), null=True, blank=True
    )
    sensor_id_path = models.CharField(_("sensor id payload path"), max_length=200, blank=True)
    sensor_id_prefix = models.CharField(_("sensor id prefix"), max_length=20, blank=True)
    mapping = models.JSONField(_("mapping (over the profile)"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sensor source")
        verbose_name_plural = _("sensor sources")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def filter_list(self) -> list[str]:
        return [line.strip() for line in self.topic_filters.splitlines() if line.strip()]


class SourceSample(models.Model):
    """One of the last messages the ingest worker saw on a source's topics (kept per topic, a
    few per source), for the source page's "try before saving"."""

    KEEP = 20
    PAYLOAD_KEEP_BYTES = 4096

    source = models.ForeignKey(SensorSource, on_delete=models.CASCADE, related_name="samples")
    received_at = models.DateTimeField(_("received"))
    topic = models.CharField(_("topic"), max_length=255)
    payload = models.BinaryField(_("raw payload (first 4 KiB)"))

    class Meta:
        verbose_name = _("source sample")
        verbose_name_plural = _("source samples")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.topic
