import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from devices.models import Sensor
from repository.choices import RoomTemplate
from repository.models import StoreRoom
from storage_env.choices import AlarmRule, AlarmState
from storage_env.models import Alarm, ClimatePolicy, Reading, effective_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def room():
    return StoreRoom.objects.create(code="K1", name="一号库", template=RoomTemplate.SPECIAL)


def test_policy_uses_template_ranges_with_overrides(room):
    policy = effective_policy(room)
    assert (policy.temp_min, policy.temp_max, policy.rh_min, policy.rh_max) == (14, 20, 45, 55)
    override = ClimatePolicy.objects.create(room=room, rh_max=52)
    assert override.effective().rh_max == 52
    assert override.effective().temp_max == 20


def test_reading_unique_per_sensor_and_time(room):
    sensor = Sensor.objects.create(sensor_id="TH-1", room=room)
    ts = timezone.now()
    Reading.objects.create(sensor=sensor, room=room, ts=ts, temperature=18, humidity=50)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reading.objects.create(sensor=sensor, room=room, ts=ts, temperature=18, humidity=50)


def test_one_open_alarm_per_rule_and_subject(room):
    now = timezone.now()
    kwargs = dict(rule=AlarmRule.HUMIDITY_HIGH, subject="sensor:TH-1", room=room, raised_at=now)
    first = Alarm.objects.create(message="a", **kwargs)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alarm.objects.create(message="b", **kwargs)
    first.state = AlarmState.CLEARED
    first.save()
    Alarm.objects.create(message="c", **kwargs)  # a new episode once the first one cleared


def test_overdue(room):
    sensor = Sensor(
        sensor_id="TH-2", temperature_offset=-0.5, humidity_offset=3, interval_seconds=60
    )
    sensor.last_seen = timezone.now() - dt.timedelta(seconds=181)
    assert sensor.is_overdue()
    sensor.last_seen = timezone.now() - dt.timedelta(seconds=100)
    assert not sensor.is_overdue()
