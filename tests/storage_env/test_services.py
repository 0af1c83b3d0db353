import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import AuditLog
from storage_env import services
from storage_env.choices import AlarmEventKind, AlarmRule, AlarmState
from storage_env.models import Alarm

pytestmark = pytest.mark.django_db


def raise_one(sensor):
    alarm, created = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        f"sensor:{sensor.sensor_id}",
        message="humidity above 60 %RH",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
        value=66,
    )
    return alarm, created


def test_alarm_is_stored_before_it_is_pushed(sensor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alarm, created = raise_one(sensor)
        assert created and Alarm.objects.filter(pk=alarm.pk).exists()
    assert len(callbacks) == 1  # the push waits for the commit


def test_push_reaches_the_dashboard_group(sensor, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(services.DASHBOARD_GROUP, channel)
    with django_capture_on_commit_callbacks(execute=True):
        alarm, _ = raise_one(sensor)
    message = async_to_sync(layer.receive)(channel)
    assert message["event"] == "alarm.raised" and message["payload"]["id"] == alarm.pk
    assert message["payload"]["sensor_id"] == "TH-01"


def test_lifecycle_and_invalid_transitions(sensor, keeper):
    alarm, _ = raise_one(sensor)
    again, created = raise_one(sensor)
    assert again.pk == alarm.pk and not created
    with pytest.raises(services.AlarmTransitionError):
        services.close_alarm(alarm, acting_user=keeper)
    alarm = services.acknowledge_alarm(alarm, acting_user=keeper, note="已开除湿机")
    assert alarm.acknowledged_by == keeper and alarm.acknowledge_note == "已开除湿机"
    with pytest.raises(services.AlarmTransitionError):
        services.acknowledge_alarm(alarm, acting_user=keeper)
    alarm = services.clear_alarm_manually(alarm, acting_user=keeper, note="恢复正常")
    assert alarm.state == AlarmState.CLEARED
    alarm = services.close_alarm(alarm, acting_user=keeper)
    assert alarm.state == AlarmState.CLOSED
    kinds = list(alarm.events.values_list("kind", flat=True))
    assert kinds == [
        AlarmEventKind.RAISED,
        AlarmEventKind.ACKNOWLEDGED,
        AlarmEventKind.CLEARED,
        AlarmEventKind.CLOSED,
    ]
    assert AuditLog.objects.filter(action__startswith="storage_env.alarm.").count() == 3
