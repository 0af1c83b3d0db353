"""Climate doors: alarms and readings are listed to climate watchers (keepers and
administrators) only, by one queryset method used by the API, the pages and the CSV."""

from __future__ import annotations

from storage_env import services
from storage_env.choices import AlarmRule
from storage_env.models import Alarm, Reading
from storage_env.roles import can_watch_climate
from tests.storage_env.conftest import NOW


def test_alarm_and_reading_doors(client_for, sensor, add_readings, keeper, admin_user, front_desk):
    add_readings(sensor, NOW, 3)
    alarm, _ = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message="TH-01: 湿度高于 60 %RH (71)",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
        value=71,
    )
    for user in (keeper, admin_user):
        assert can_watch_climate(user)
        assert list(Alarm.objects.visible_to(user)) == [alarm]
        assert Reading.objects.visible_to(user).count() == 3
    for user in (front_desk, None):
        assert not can_watch_climate(user)
        assert not Alarm.objects.visible_to(user).exists()
        assert not Reading.objects.visible_to(user).exists()
    # The doors behind the API and the pages answer the same.
    assert client_for(keeper).get("/api/v1/climate/alarms/").json()[0]["id"] == alarm.pk
    assert client_for(front_desk).get("/api/v1/climate/alarms/").status_code == 403
    ack = f"/api/v1/climate/alarms/{alarm.pk}/acknowledge/"
    assert client_for(front_desk).post(ack, {"note": "x"}).status_code == 403
