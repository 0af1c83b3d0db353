"""Sensor registry changes: audited, atomic."""

from __future__ import annotations

from django.db import transaction

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
