"""The alarm engine never stops by itself: one snapshot per sensor, pure rules, failures
isolated per sensor, and exactly-once raises, reminders and escalations with several engines."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import Sensor
from repository.models import StoreRoom
from storage_env import services
from storage_env.choices import AlarmEventKind, AlarmRule, AlarmState
from storage_env.engine import (
    AlarmEngine,
    clean_series,
    climate_conditions,
    decide_climate,
    held_for,
)
from storage_env.management.commands.evaluate_alarms import loop
from storage_env.models import Alarm, AlarmEvent, ClimatePolicy, Reading, effective_policy
from tests.gates import require_postgresql
from tests.storage_env.conftest import NOW

M = dt.timedelta(minutes=1)
ROOT = Path(__file__).resolve().parents[2]


def ts(value: dt.datetime):
    """A datetime as the database backend stores it (for raw SQL)."""
    return connection.ops.adapt_datetimefield_value(value)


def insert_reading(sensor, at, temperature, humidity) -> None:
    """As another process would, on a cursor of its own (the current one holds results)."""
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO "storage_env_reading" (sensor_id, room_id, ts, temperature, humidity, '
            "received_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [sensor.pk, sensor.room_id, ts(at), temperature, humidity, ts(NOW)],
        )


def paper_policy(**overrides):
    room = StoreRoom(code="X", template="paper")
    return effective_policy(room, ClimatePolicy(room=room, **overrides))


# --- the crash class: a reading stored between two queries of one evaluation ---------------
@pytest.mark.django_db(transaction=True)
def test_a_reading_stored_during_an_evaluation_never_crashes_it(sensor, add_readings):
    """Today's engine asked the database four times per condition; a reading that broke the
    condition, stored between those queries, left ``first`` None: TypeError, engine dead."""
    add_readings(sensor, NOW - 30 * M, 30, humidity=70)
    inserted = []

    looked = []

    def insert_after_reading_queries(execute, sql, params, many, context):
        if looked and not inserted:  # a good reading arrives right after the first look
            inserted.append(True)
            insert_reading(sensor, NOW + M, 20.0, 50.0)
        looks_at_sensor = '"storage_env_reading"."sensor_id" =' in sql and "MAX(" not in sql
        if looks_at_sensor and sql.startswith("SELECT"):
            looked.append(True)
        return execute(sql, params, many, context)

    engine = AlarmEngine()
    with (
        time_machine.travel(NOW + M, tick=False),
        connection.execute_wrapper(insert_after_reading_queries),
    ):
        engine.evaluate_all()
    assert inserted and engine.stats.failures == 0
    assert Alarm.objects.filter(rule=AlarmRule.HUMIDITY_HIGH).exists()  # judged on its snapshot


# --- pure rules under generated reading streams ---------------------------------------------
maybe_value = st.one_of(
    st.none(),
    st.floats(min_value=-40, max_value=120, allow_nan=False),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)
stream = st.lists(
    st.tuples(st.integers(min_value=-3 * 3600, max_value=600), maybe_value, maybe_value),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(stream, st.sets(st.sampled_from([c.value for c in AlarmRule])), st.randoms())
def test_rules_take_any_stream_without_error(rows, open_rules, rnd):
    """Out of order, duplicate timestamps, NULL and non-finite values, future timestamps,
    empty windows: the rules answer, the answer does not depend on arrival order, and no
    condition is both raised and cleared."""
    now = NOW
    policy = paper_policy()
    conditions = climate_conditions(policy)

    def series(order):
        return {
            "temperature": clean_series(
                ((now + dt.timedelta(seconds=s), t) for s, t, _h in order), now
            ),
            "humidity": clean_series(
                ((now + dt.timedelta(seconds=s), h) for s, _t, h in order), now
            ),
        }

    first = decide_climate(series(rows), conditions, open_rules)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    # duplicates of one timestamp keep the last value given: compare only unique timestamps
    if len({s for s, _t, _h in rows}) == len(rows):
        again = decide_climate(series(shuffled), conditions, open_rules)
        assert [(d.action, d.condition.rule, d.value) for d in first] == [
            (d.action, d.condition.rule, d.value) for d in again
        ]
    for decision in first:
        samples = series(rows)[decision.condition.field]
        assert samples and samples[-1][1] == decision.value  # judged at the latest sample
        assert samples[-1][0] <= now + dt.timedelta(minutes=2)  # never a future reading
        if decision.action == "raise":
            assert decision.condition.rule not in open_rules
            assert decision.held >= decision.condition.sustain
        else:
            assert decision.condition.rule in open_rules


def test_held_for_measures_the_unbroken_run_up_to_the_latest_sample():
    samples = [(NOW + k * M, v) for k, v in enumerate([70, 50, 70, 71, 72])]
    assert held_for(samples, lambda v: v > 65) == (2 * M, 72)
    assert held_for(samples, lambda v: v < 65) is None
    assert held_for([], lambda v: True) is None


def test_a_single_sample_spike_never_alarms_the_fluctuation_rule():
    """JGJ 25-2010 §5.2.3 is about the day's fluctuation: one 2.5 °C spike is not sustained."""
    policy = paper_policy(sustain_minutes=10)  # set point 19 °C (middle of 14–24)
    temps = [(NOW + k * M, 19.0) for k in range(30)] + [(NOW + 30 * M, 21.5)]
    decisions = decide_climate({"temperature": temps}, climate_conditions(policy), set())
    assert decisions == []
    temps += [(NOW + (31 + k) * M, 21.5) for k in range(10)]
    decisions = decide_climate({"temperature": temps}, climate_conditions(policy), set())
    assert [d.condition.rule for d in decisions] == [AlarmRule.TEMPERATURE_SWING]
    assert decisions[0].condition.message(decisions[0].value)["params"]["deviation"] == "2.5"


def test_fluctuation_is_the_deviation_from_the_set_point():
    """18↔22 °C around a set point of 20 deviates 2.0 (allowed); around 19 it deviates 3.0."""
    swing = [(NOW + k * M, 18.0 if (k // 20) % 2 else 22.0) for k in range(100)]
    centred = paper_policy(temp_set=20.0) if hasattr(ClimatePolicy, "temp_set") else None
    off = paper_policy()  # default set point: the middle of 14–24 °C, i.e. 19
    assert [
        d.condition.rule
        for d in decide_climate({"temperature": swing}, climate_conditions(off), set())
    ] == [AlarmRule.TEMPERATURE_SWING]
    if centred is not None:
        assert decide_climate({"temperature": swing}, climate_conditions(centred), set()) == []


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-90, max_value=3),
            st.one_of(st.none(), st.floats(min_value=5, max_value=35, allow_nan=False)),
            st.one_of(st.none(), st.floats(min_value=20, max_value=95, allow_nan=False)),
        ),
        max_size=40,
        unique_by=lambda row: row[0],
    ),
    st.integers(min_value=0, max_value=2**31),
)
def test_the_engine_survives_generated_streams_with_concurrent_inserts(sensor, rows, seed):
    Reading.objects.filter(sensor=sensor).delete()
    Alarm.objects.all().delete()
    Reading.objects.bulk_create(
        [
            Reading(
                sensor=sensor,
                room_id=sensor.room_id,
                ts=NOW + minutes * M,
                temperature=t,
                humidity=h,
            )
            for minutes, t, h in rows
        ]
    )
    rnd = random.Random(seed)
    extra = iter(range(1, 1000))

    def insert_between_queries(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("SELECT") and rnd.random() < 0.3:
            insert_reading(
                sensor,
                NOW + dt.timedelta(seconds=10 * 60 + next(extra)),
                rnd.choice([None, 12.0, 20.0, 30.0]),
                rnd.choice([None, 40.0, 50.0, 75.0]),
            )
        return result

    engine = AlarmEngine()
    engine.start_from_latest()
    engine.last_reading_id = 0
    with time_machine.travel(NOW, tick=False), connection.execute_wrapper(insert_between_queries):
        engine.evaluate_new_readings()
        engine.evaluate_all()
        engine.evaluate_new_readings()
    assert engine.stats.failures == 0, engine.stats.last_failure


# --- one sensor's failure is logged, counted and skipped ------------------------------------
@pytest.mark.django_db
def test_a_failing_sensor_is_skipped_and_the_others_evaluated(
    room, add_readings, monkeypatch, caplog
):
    bad = Sensor.objects.create(sensor_id="TH-BAD", room=room, interval_seconds=60, last_seen=NOW)
    good = Sensor.objects.create(sensor_id="TH-GOOD", room=room, interval_seconds=60, last_seen=NOW)
    add_readings(bad, NOW - 20 * M, 20, humidity=75)
    add_readings(good, NOW - 20 * M, 20, humidity=75)
    original = AlarmEngine.snapshot

    def snapshot(self, sensor, policy, now):
        if sensor.sensor_id == "TH-BAD":
            raise ZeroDivisionError("a bug met only by this sensor")
        return original(self, sensor, policy, now)

    monkeypatch.setattr(AlarmEngine, "snapshot", snapshot)
    engine = AlarmEngine()
    with time_machine.travel(NOW, tick=False):
        engine.evaluate_all()
    assert engine.stats.failures == 1 and engine.stats.failed_sensors == {"TH-BAD": 1}
    assert "TH-BAD" in caplog.text
    assert Alarm.objects.filter(subject="sensor:TH-GOOD", rule=AlarmRule.HUMIDITY_HIGH).exists()


def test_the_engine_loop_survives_a_failing_step_and_beats(transactional_db):
    from core.heartbeat import Heartbeat
    from core.models import WorkerHeartbeat

    stop = threading.Event()
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first pass hits a bug")
        stop.set()

    beat = Heartbeat("test.loop", every=0)
    worker = threading.Thread(target=loop, args=(stop, 0.0, step, "test", beat, AlarmEngine()))
    worker.start()  # in its own thread, as in the command (the loop closes its connection)
    worker.join(30)
    assert len(calls) == 2
    row = WorkerHeartbeat.objects.get(name="test.loop")
    assert row.detail["failures_in_a_row"] == 0


# --- several engines: every raise, reminder and escalation exactly once ---------------------
def _in_threads(targets):
    """Run the callables at once, each in its own thread with its own connection."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def run(target):
        try:
            barrier.wait(10)
            target()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_two_engines_remind_and_escalate_each_alarm_once(sensor, personas):
    require_postgresql()
    raised, _ = services.raise_alarm(AlarmRule.HUMIDITY_HIGH, "sensor:A", message="x", now=NOW)
    acked, _ = services.raise_alarm(AlarmRule.HUMIDITY_LOW, "sensor:B", message="y", now=NOW)
    services.acknowledge_alarm(acked, acting_user=personas["keeper"])
    # each engine holds its own copy, read before any of them acted
    copies = [(Alarm.objects.get(pk=raised.pk), Alarm.objects.get(pk=acked.pk)) for _ in range(4)]

    def engine(mine):
        return lambda: (
            services.escalate_alarm(mine[0], now=NOW),
            services.remind_alarm(mine[1], now=NOW),
        )

    _in_threads([engine(mine) for mine in copies])
    assert AlarmEvent.objects.filter(alarm=raised, kind=AlarmEventKind.ESCALATED).count() == 1
    assert Alarm.objects.get(pk=raised.pk).escalation_level == 1
    assert AlarmEvent.objects.filter(alarm=acked, kind=AlarmEventKind.REMINDED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_engine_processes_on_one_database_do_everything_once(room):
    """Two real ``evaluate_alarms`` processes on one PostgreSQL database over the same due
    work: 15 sensors out of band, 15 acknowledged alarms due a reminder, 15 raised alarms due
    an escalation."""
    require_postgresql()
    from accounts.models import User

    keeper = User.objects.create_user("k2", password="x")
    ClimatePolicy.objects.filter(room=room).update(sustain_minutes=1, remind_every_minutes=1)
    now = dt.datetime.now(dt.UTC)
    for i in range(15):
        s = Sensor.objects.create(sensor_id=f"E-{i:02d}", room=room, last_seen=now)
        Reading.objects.bulk_create(
            [
                Reading(sensor=s, room=room, ts=now - k * M, temperature=20.0, humidity=75.0)
                for k in range(5)
            ]
        )
        old = now - 3 * dt.timedelta(hours=1)
        due, _ = services.raise_alarm(
            AlarmRule.DEVICE, f"sensor:E-{i:02d}:smoke", message="s", room_id=room.pk, now=old
        )
        ack, _ = services.raise_alarm(
            AlarmRule.DEVICE, f"sensor:E-{i:02d}:door", message="d", room_id=room.pk, now=old
        )
        services.acknowledge_alarm(ack, acting_user=keeper)
        Alarm.objects.filter(pk=ack.pk).update(acknowledged_at=old)
    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env.pop("REDIS_URL", None)
    env["DEBUG"] = "true"
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "evaluate_alarms", "--once"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    events = AlarmEvent.objects.filter(alarm__room=room)
    raised_rh = Alarm.objects.filter(rule=AlarmRule.HUMIDITY_HIGH, room=room)
    assert raised_rh.count() == 15
    assert (
        events.filter(kind=AlarmEventKind.RAISED, alarm__rule=AlarmRule.HUMIDITY_HIGH).count() == 15
    )
    assert events.filter(kind=AlarmEventKind.REMINDED).count() == 15
    assert events.filter(kind=AlarmEventKind.ESCALATED).count() == 15
    assert not Alarm.objects.filter(state=AlarmState.RAISED, escalation_level__gt=1).exists()
