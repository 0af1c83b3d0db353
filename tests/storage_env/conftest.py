import datetime as dt

import pytest

from devices.choices import SensorKind
from devices.models import Sensor
from devices.mqtt.payloads import dew_point
from repository.choices import RoomTemplate
from repository.models import StoreRoom
from storage_env.models import ClimatePolicy, Reading

NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def room(db):
    room = StoreRoom.objects.create(code="K01", name="一号库房", template=RoomTemplate.PAPER)
    ClimatePolicy.objects.create(
        room=room, sustain_minutes=10, clear_minutes=5, escalate_after_minutes=30
    )
    return room


@pytest.fixture
def sensor(room):
    return Sensor.objects.create(sensor_id="TH-01", room=room, interval_seconds=60, last_seen=NOW)


@pytest.fixture
def add_readings(db):
    def add(sensor, start, minutes, temperature=20.0, humidity=50.0, step=1):
        rows = [
            Reading(
                sensor=sensor,
                room_id=sensor.room_id,
                ts=start + dt.timedelta(minutes=m),
                temperature=temperature,
                humidity=humidity,
                dew_point=dew_point(temperature, humidity),
            )
            for m in range(0, minutes, step)
        ]
        Reading.objects.bulk_create(rows)
        Sensor.objects.filter(pk=sensor.pk).update(last_seen=rows[-1].ts)
        return rows

    return add


@pytest.fixture
def surface_sensor(room):
    return Sensor.objects.create(
        sensor_id="SF-01", room=room, kind=SensorKind.SURFACE, last_seen=NOW
    )
