import pytest

from accounts.models import AuditLog
from devices.models import DeadLetter, DiscoveredSensor, Sensor

PERSONAS = ["public", "researcher", "front_desk", "keeper", "archivist_a", "approver_secret"]
PERSONAS += ["admin", "outsider"]
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", PERSONAS)
def test_sensor_pages_are_for_administrators(name, personas, client_for, room):
    discovered = DiscoveredSensor.objects.create(sensor_id="NEW-1", message_count=3)
    DeadLetter.objects.create(topic="t", payload=b"x", payload_size=1, reason="bad_json")
    client = client_for(personas[name])
    page = client.get("/staff/devices/")
    response = client.post(
        f"/staff/devices/discovered/{discovered.pk}/assign/",
        {"room": room.pk, "kind": "climate", "interval_seconds": 30},
    )
    if name == "public":
        assert page.status_code == 302 and response.status_code == 302
        assert not Sensor.objects.filter(sensor_id="NEW-1").exists()
    elif name == "admin":
        assert page.status_code == 200 and b"NEW-1" in page.content
        assert response.status_code == 302
        sensor = Sensor.objects.get(sensor_id="NEW-1")
        assert sensor.room == room and sensor.interval_seconds == 30
        assert not DiscoveredSensor.objects.exists()
        assert AuditLog.objects.filter(action="devices.sensor.registered").exists()
    else:
        assert page.status_code == 404 and response.status_code == 404
        assert not Sensor.objects.filter(sensor_id="NEW-1").exists()


def test_assign_rejects_bad_input(admin_user, client_for, room):
    discovered = DiscoveredSensor.objects.create(sensor_id="NEW-2")
    client = client_for(admin_user)
    client.post(
        f"/staff/devices/discovered/{discovered.pk}/assign/",
        {"room": room.pk, "kind": "teapot", "interval_seconds": 0},
    )
    assert not Sensor.objects.filter(sensor_id="NEW-2").exists()
    assert client.post("/staff/devices/discovered/999/assign/", {}).status_code == 404
