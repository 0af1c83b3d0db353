"""Sensor registry changes: audited, atomic."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from devices.models import DiscoveredSensor, Sensor
from repository.models import StoreRoom


@transaction.atomic
def register_discovered_sensor(
    discovered: DiscoveredSensor,
    *,
    acting_user: User,
    room: StoreRoom,
    kind: str,
    interval_seconds: int = 60,
) -> Sensor:
    """An administrator assigns a discovered sensor id to a room; it is accepted from now on."""
    locked = DiscoveredSensor.objects.select_for_update().filter(pk=discovered.pk).first()
    if locked is None:  # registered (or removed) by someone else meanwhile
        raise ValidationError(_("This sensor is no longer waiting to be registered."))
    discovered = locked
    sensor = Sensor(
        sensor_id=discovered.sensor_id, room=room, kind=kind, interval_seconds=interval_seconds
    )
    sensor.full_clean()
    sensor.save()
    discovered.delete()
    record_event(
        "devices.sensor.registered",
        acting_user=acting_user,
        obj=sensor,
        after={"sensor_id": sensor.sensor_id, "room": room.code, "kind": kind},
    )
    return sensor


CALIBRATION_FIELDS = ("temperature_offset", "humidity_offset")


@transaction.atomic
def update_sensor_calibration(
    sensor: Sensor,
    *,
    acting_user: User,
    temperature_offset: float | None = None,
    humidity_offset: float | None = None,
) -> Sensor:
    """Change a sensor's calibration offsets (checked against the model's ranges); the
    ingest worker applies them from its next batch (the registry version moves on save)."""
    sensor = Sensor.objects.select_for_update().get(pk=sensor.pk)
    before = {field: getattr(sensor, field) for field in CALIBRATION_FIELDS}
    if temperature_offset is not None:
        sensor.temperature_offset = temperature_offset
    if humidity_offset is not None:
        sensor.humidity_offset = humidity_offset
    after = {field: getattr(sensor, field) for field in CALIBRATION_FIELDS}
    if after == before:
        return sensor
    sensor.full_clean()
    sensor.save(update_fields=list(CALIBRATION_FIELDS))
    record_event(
        "devices.sensor.calibrated", acting_user=acting_user, obj=sensor, before=before, after=after
    )
    return sensor


@transaction.atomic
def set_sensor_enabled(sensor: Sensor, enabled: bool, *, acting_user: User) -> Sensor:
    """Enable or disable a sensor; messages of a disabled one go to the dead letters."""
    sensor = Sensor.objects.select_for_update().get(pk=sensor.pk)
    if sensor.enabled == enabled:
        return sensor
    sensor.enabled = enabled
    sensor.save(update_fields=["enabled"])
    record_event(
        "devices.sensor.enabled" if enabled else "devices.sensor.disabled",
        acting_user=acting_user,
        obj=sensor,
        before={"enabled": not enabled},
        after={"enabled": enabled},
    )
    return sensor
