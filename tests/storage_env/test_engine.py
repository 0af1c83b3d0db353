"""The alarm engine with frozen time: debounce, hysteresis, each rule, escalation."""

import datetime as dt

import pytest
import time_machine

from accounts.choices import Role
from devices.choices import SensorStatus
from devices.models import Sensor
from storage_env import services
from storage_env.choices import AlarmEventKind, AlarmRule, AlarmState
from storage_env.engine import AlarmEngine
from storage_env.models import Alarm, AlarmEvent
from tests.storage_env.conftest import NOW

pytestmark = pytest.mark.django_db
M = dt.timedelta(minutes=1)


def run(at):
    with time_machine.travel(at, tick=False):
        AlarmEngine().evaluate_all()


SWINGS = (AlarmRule.TEMPERATURE_SWING, AlarmRule.HUMIDITY_SWING)


def rules(swings=False):
    """Open alarm rules (the 24 h swing rules only when asked: step changes trip them)."""
    found = Alarm.objects.open().values_list("rule", flat=True)
    return sorted(r for r in found if swings or r not in SWINGS)


def test_out_of_range_is_debounced_then_raised_once(sensor, add_readings):
    add_readings(sensor, NOW - 30 * M, 20, humidity=50)
    add_readings(sensor, NOW - 10 * M, 10, humidity=63)  # 9 minutes between first and last
    run(NOW)
    assert rules() == []
    add_readings(sensor, NOW, 2, humidity=63)
    run(NOW + 2 * M)
    run(NOW + 2 * M)
    assert rules() == [AlarmRule.HUMIDITY_HIGH]
    alarm = Alarm.objects.get(rule=AlarmRule.HUMIDITY_HIGH)
    assert alarm.subject == "sensor:TH-01" and alarm.room_id == sensor.room_id
    assert alarm.value == 63
    assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEventKind.RAISED).count() == 1


def test_clearing_needs_hysteresis_and_time(sensor, add_readings):
    add_readings(sensor, NOW - 30 * M, 30, temperature=26)
    run(NOW)
    assert rules() == [AlarmRule.TEMPERATURE_HIGH]
    add_readings(sensor, NOW, 10, temperature=23.8)  # in range, not past the 0.5 °C hysteresis
    run(NOW + 10 * M)
    assert rules() == [AlarmRule.TEMPERATURE_HIGH]
    add_readings(sensor, NOW + 10 * M, 4, temperature=23.0)
    run(NOW + 14 * M)
    assert rules() == [AlarmRule.TEMPERATURE_HIGH]  # 3 minutes < clear_minutes (5)
    add_readings(sensor, NOW + 14 * M, 3, temperature=23.0)
    run(NOW + 17 * M)
    assert rules() == []
    assert Alarm.objects.get(rule=AlarmRule.TEMPERATURE_HIGH).state == AlarmState.CLEARED


def test_low_temperature_and_low_humidity(sensor, add_readings):
    add_readings(sensor, NOW - 20 * M, 20, temperature=12, humidity=40)
    run(NOW)
    assert rules() == [AlarmRule.HUMIDITY_LOW, AlarmRule.TEMPERATURE_LOW]


def test_mould_risk_needs_sustained_high_humidity(sensor, add_readings):
    sensor.room.climate_policy.__class__.objects.filter(room=sensor.room).update(mould_minutes=60)
    add_readings(sensor, NOW - 50 * M, 50, humidity=70)
    run(NOW)
    assert rules() == [AlarmRule.HUMIDITY_HIGH]
    add_readings(sensor, NOW, 12, humidity=70)
    run(NOW + 12 * M)
    assert rules() == sorted([AlarmRule.MOULD_RISK, AlarmRule.HUMIDITY_HIGH])
    assert Alarm.objects.get(rule=AlarmRule.MOULD_RISK).severity == "critical"


def test_24_hour_fluctuation(sensor, add_readings):
    add_readings(sensor, NOW - 24 * 60 * M, 12 * 60, temperature=16.5, step=10)
    add_readings(sensor, NOW - 12 * 60 * M, 12 * 60, temperature=23.5, step=10)
    run(NOW)
    assert AlarmRule.TEMPERATURE_SWING in rules(swings=True)
    assert AlarmRule.HUMIDITY_SWING not in rules(swings=True)


def test_condensation_where_a_surface_sensor_exists(sensor, surface_sensor, add_readings):
    add_readings(sensor, NOW - 5 * M, 5, temperature=20, humidity=55)  # dew point ≈ 10.7 °C
    with time_machine.travel(NOW, tick=False):
        from storage_env.models import Reading

        Reading.objects.create(
            sensor=surface_sensor, room=sensor.room, ts=NOW - M, temperature=12.0
        )
        Sensor.objects.filter(pk=surface_sensor.pk).update(last_seen=NOW)
    run(NOW)
    assert rules() == [AlarmRule.CONDENSATION]
    assert Alarm.objects.get().subject == f"room:{sensor.room_id}"


def test_offline_by_silence_or_status_and_back_online(sensor, add_readings):
    add_readings(sensor, NOW - 10 * M, 6, humidity=50)  # last reading 5 min ago, interval 60 s
    run(NOW)
    assert rules() == [AlarmRule.OFFLINE]
    add_readings(sensor, NOW, 1)
    run(NOW + M / 2)
    assert rules() == []
    Sensor.objects.filter(pk=sensor.pk).update(status=SensorStatus.OFFLINE)
    run(NOW + M / 2)
    assert rules() == [AlarmRule.OFFLINE]  # a new episode


def test_low_battery(sensor, add_readings):
    add_readings(sensor, NOW - 2 * M, 2)
    Sensor.objects.filter(pk=sensor.pk).update(battery=9)
    run(NOW)
    assert rules() == [AlarmRule.LOW_BATTERY]
    Sensor.objects.filter(pk=sensor.pk).update(battery=80)
    run(NOW)
    assert rules() == []


def test_unacknowledged_alarm_escalates_to_supervisors(sensor, add_readings, personas):
    add_readings(sensor, NOW - 20 * M, 20, humidity=70)
    run(NOW)
    alarm = Alarm.objects.get(rule=AlarmRule.HUMIDITY_HIGH)
    run(NOW + 29 * M)
    alarm.refresh_from_db()
    assert alarm.escalation_level == 0
    run(NOW + 31 * M)
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1
    assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEventKind.ESCALATED).exists()
    with time_machine.travel(NOW + 32 * M, tick=False):
        services.acknowledge_alarm(alarm, acting_user=personas["keeper"], note="开除湿机")
    run(NOW + 95 * M)
    alarm.refresh_from_db()
    assert alarm.escalation_level == 1  # acknowledged alarms do not escalate
    assert AlarmEvent.objects.filter(alarm=alarm, kind=AlarmEventKind.REMINDED).exists()
    assert Role.ADMINISTRATOR == services.SUPERVISOR_ROLE


def test_the_rooms_own_keepers_are_told_personally(sensor, add_readings, personas, monkeypatch):
    from accounts.models import User

    told: list[tuple[int, str]] = []
    monkeypatch.setattr(services, "notify_user", lambda uid, event, _p: told.append((uid, event)))
    mine, other = personas["keeper"], User.objects.create_user("keeper2", password="x")
    gone = User.objects.create_user("keeper3", password="x", is_active=False)
    sensor.room.keepers.add(mine, gone)
    add_readings(sensor, NOW - 20 * M, 20, humidity=70)
    run(NOW)
    raised = [event for uid, event in told if event == "alarm.raised"]
    assert {uid for uid, _e in told} == {mine.pk} and raised  # not other or inactive keepers
    alarm = Alarm.objects.get(rule=AlarmRule.HUMIDITY_HIGH)
    told.clear()
    services.remind_alarm(alarm)
    assert told == [(mine.pk, "alarm.reminded")]
    assert other.pk not in {uid for uid, _e in told}


def test_new_readings_fast_path_raises_within_one_tick(sensor, add_readings):
    engine = AlarmEngine()
    with time_machine.travel(NOW, tick=False):
        engine.evaluate_all()
    sensor.room.climate_policy.__class__.objects.filter(room=sensor.room).update(sustain_minutes=0)
    engine.load_policies()
    add_readings(sensor, NOW, 1, humidity=75)
    with time_machine.travel(NOW + M / 60, tick=False):
        assert engine.evaluate_new_readings() == 1
    assert AlarmRule.HUMIDITY_HIGH in rules()


def test_evaluate_alarms_once_command(sensor, add_readings):
    import io

    from django.core.management import call_command

    add_readings(sensor, dt.datetime.now(dt.UTC) - 20 * M, 20, humidity=75)
    call_command("evaluate_alarms", "--once", stdout=io.StringIO())
    assert AlarmRule.HUMIDITY_HIGH in rules()
