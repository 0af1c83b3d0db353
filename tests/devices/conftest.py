import pytest

from devices.models import Sensor
from repository.choices import RoomTemplate
from repository.models import StoreRoom


@pytest.fixture
def room(db):
    return StoreRoom.objects.create(code="K01", name="一号库房", template=RoomTemplate.PAPER)


@pytest.fixture
def sensor(room):
    return Sensor.objects.create(
        sensor_id="TH-01", room=room, temperature_offset=-0.5, humidity_offset=1.0
    )
