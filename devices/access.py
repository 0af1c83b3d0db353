"""Who may see and change the sensor registry, and fetching sensors for them.

Keepers and administrators read the registry (they watch the rooms); only administrators
change it and see what the worker rejected (dead letters) or has not placed (discovered).
"""

from __future__ import annotations

from django.http import Http404

from devices.models import DiscoveredSensor, Sensor
from devices.roles import can_manage_sensors, can_read_sensors

__all__ = [
    "access_discovered",
    "access_sensor",
    "access_sensor_for_change",
    "can_manage_sensors",
    "can_read_sensors",
]


def access_sensor(user, pk) -> Sensor:
    """A sensor the user may read; 404 for missing and forbidden alike."""
    if not can_read_sensors(user):
        raise Http404
    sensor = Sensor.objects.select_related("room").filter(pk=pk).first()
    if sensor is None:
        raise Http404
    return sensor


def access_sensor_for_change(user, pk) -> Sensor:
    if not can_manage_sensors(user):
        raise Http404
    return access_sensor(user, pk)


def access_discovered(user, pk) -> DiscoveredSensor:
    if not can_manage_sensors(user):
        raise Http404
    discovered = DiscoveredSensor.objects.filter(pk=pk).first()
    if discovered is None:
        raise Http404
    return discovered
