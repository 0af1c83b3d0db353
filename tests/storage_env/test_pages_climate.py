"""Climate pages a keeper reads at a glance: out-of-range marks, time of the last reading,
sparklines, acknowledging from the dashboard, device codes in words, the alarm lifecycle, and
the history series behind the room chart (each range its own span, sorted, gaps kept)."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest
import time_machine
from django.utils import translation

from devices.models import Sensor
from storage_env import queries, services
from storage_env.choices import (
    DEVICE_ALARM_CODES,
    AggregateBucket,
    AlarmRule,
    AlarmState,
    device_code_label,
)
from storage_env.models import Alarm, ReadingAggregate
from tests.storage_env.conftest import NOW

pytestmark = pytest.mark.django_db
M = dt.timedelta(minutes=1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def add_aggregates(sensor, bucket, start, count, *, step, humidity=50.0, shuffle=True):
    rows = [
        ReadingAggregate(
            sensor=sensor,
            room_id=sensor.room_id,
            bucket=bucket,
            start=start + i * step,
            count=5,
            temperature_min=19.0,
            temperature_max=21.0,
            temperature_mean=20.0,
            humidity_min=humidity - 1,
            humidity_max=humidity + 1,
            humidity_mean=humidity,
        )
        for i in range(count)
    ]
    if shuffle:  # stored in no particular order: the query must sort
        random.Random(7).shuffle(rows)
    ReadingAggregate.objects.bulk_create(rows)
    return rows


# --- device alarm codes ----------------------------------------------------------------------


def test_device_codes_are_named_in_chinese_and_unknown_ones_as_they_came():
    with translation.override("zh-hans"):
        assert device_code_label("smoke") == "烟雾"
        assert device_code_label("water_leak") == "漏水"
        assert device_code_label("door_open") == "门开启"
        assert device_code_label("tamper") == "防拆"
        assert device_code_label("power_fail") == "断电"
        assert device_code_label("xyz") == "未知代码（xyz）"
        assert device_code_label("") == ""
        untranslated = [c for c, label in DEVICE_ALARM_CODES.items() if str(label).isascii()]
        assert untranslated == []
    with translation.override("en"):
        assert device_code_label("xyz") == "unknown code (xyz)"
        assert device_code_label("water_leak") == "Water leak"


def test_device_alarm_is_named_on_dashboard_room_page_and_api(keeper, client_for, sensor, frozen):
    services.apply_device_alarm(
        sensor=sensor, code="water_leak", severity="critical", active=True, message="", now=NOW
    )
    services.apply_device_alarm(
        sensor=sensor, code="zz_9", severity="minor", active=True, message="zz_9", now=NOW
    )
    client = client_for(keeper)
    dashboard = client.get("/staff/climate/").content.decode()
    room = client.get(f"/staff/climate/rooms/{sensor.room_id}/").content.decode()
    for page in (dashboard, room):
        assert "<strong>漏水</strong>" in page
        assert "未知代码（zz_9）" in page
        assert ">water_leak<" not in page
    api = client.get("/api/v1/climate/alarms/").json()
    assert {a["code"]: a["code_label"] for a in api} == {
        "water_leak": "漏水",
        "zz_9": "未知代码（zz_9）",
    }
    states = client.get("/api/v1/climate/rooms/").json()
    assert states[0]["open_alarms"][0]["code_label"] in {"漏水", "未知代码（zz_9）"}
    codes = re.search(r'data-device-codes="([^"]*)"', dashboard).group(1)
    assert json.loads(codes.replace("&quot;", '"'))["smoke"] == "烟雾"  # for pushed alarms


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_marks_out_of_range_values_in_text(keeper, client_for, sensor, add_readings):
    add_readings(sensor, NOW - 10 * M, 8, temperature=21.0, humidity=63.5)
    with time_machine.travel(NOW, tick=False):
        page = client_for(keeper).get("/staff/climate/").content.decode()
    humidity = page[page.index('data-value="humidity"') :][:900]
    temperature = page[page.index('data-value="temperature"') :][:900]
    assert '<span data-field="humidity">63.5</span> <small class="climate-unit">%RH' in humidity
    assert 'class="climate-value climate-out"' in page[page.index('data-value="humidity"') - 60 :]
    assert re.search(r'data-direction="high"[^>]*>超限<', humidity)
    assert "hidden" not in humidity.split("data-direction")[1].split(">")[0]
    assert re.search(r'data-direction=""[^>]*hidden>超限<', temperature)  # 21 °C is fine


def test_dashboard_shows_when_the_last_reading_came(keeper, client_for, sensor, add_readings):
    add_readings(sensor, NOW - 10 * M, 8)  # the last at NOW - 3 min = 11:57 in Shanghai
    with time_machine.travel(NOW, tick=False):
        page = client_for(keeper).get("/staff/climate/").content.decode()
    assert re.search(
        r'<time data-field="updated_at" datetime="2026-07-01T11:57:00\+08:00">11:57<', page
    )
    assert "3 分钟前" in page
    assert 'data-stale="false"' in page
    with time_machine.travel(NOW + dt.timedelta(hours=5), tick=False):
        page = client_for(keeper).get("/staff/climate/").content.decode()
    assert "5 小时前" in page and 'data-stale="true"' in page


def test_dashboard_sparkline_is_24_hours_of_room_means(keeper, client_for, sensor, room):
    other = Sensor.objects.create(sensor_id="TH-02", room=room, interval_seconds=60)
    start = NOW - dt.timedelta(hours=6)
    add_aggregates(sensor, AggregateBucket.FIVE_MINUTES, start, 12, step=5 * M, humidity=50)
    add_aggregates(other, AggregateBucket.FIVE_MINUTES, start, 12, step=5 * M, humidity=54)
    with time_machine.travel(NOW, tick=False):
        page = client_for(keeper).get("/staff/climate/").content.decode()
    raw = re.search(r'data-sparkline="([^"]*)"', page).group(1).replace("&quot;", '"')
    line = json.loads(raw)
    assert len(line["humidity"]) == 96 and line["step"] == 15 * 60 * 1000
    assert line["start"] == (NOW - dt.timedelta(hours=24) + 15 * M).timestamp() * 1000
    known = [v for v in line["humidity"] if v is not None]
    assert known == [52.0] * 4  # one hour: 4 steps, the mean of both sensors
    assert line["limits"] == {"temp_min": 14, "temp_max": 24, "rh_min": 45, "rh_max": 60}


def test_alarm_acknowledged_from_the_dashboard_card(keeper, client_for, sensor, add_readings):
    add_readings(sensor, NOW - 10 * M, 8, humidity=66)
    alarm, _ = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message="TH-01: 湿度高于 60 %RH (66)",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
        value=66,
    )
    client = client_for(keeper)
    client.handler.enforce_csrf_checks = True
    page = client.get("/staff/climate/").content.decode()
    form = re.search(
        rf'<form method="post" action="/staff/climate/alarms/{alarm.pk}/acknowledge/"'
        r' class="climate-ack">.*?</form>',
        page,
        re.S,
    ).group(0)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert 'name="next" value="/staff/climate/"' in form
    response = client.post(
        f"/staff/climate/alarms/{alarm.pk}/acknowledge/",
        {"csrfmiddlewaretoken": token, "next": "/staff/climate/"},
    )
    assert response.status_code == 302 and response["Location"] == "/staff/climate/"
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == keeper
    page = client.get("/staff/climate/").content.decode()
    assert f"/alarms/{alarm.pk}/acknowledge/" not in page and "已确认" in page
    # Only somewhere on this site: anything else goes back to the room page.
    response = client.post(
        f"/staff/climate/alarms/{alarm.pk}/clear/",
        {"csrfmiddlewaretoken": token, "next": "https://evil.example/"},
    )
    assert response["Location"] == f"/staff/climate/rooms/{sensor.room_id}/"


def test_only_keepers_and_administrators_get_the_cards(client_for, personas, sensor):
    alarm, _ = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message="m",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
    )
    for name in ("front_desk", "researcher", "outsider"):
        client = client_for(personas[name])
        assert client.get("/staff/climate/").status_code == 404
        client.post(f"/staff/climate/alarms/{alarm.pk}/acknowledge/", {"next": "/staff/climate/"})
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RAISED
    assert client_for(personas["admin"]).get("/staff/climate/").status_code == 200


# --- room page -------------------------------------------------------------------------------


def test_room_page_explains_the_lifecycle_and_shows_daily_compliance(keeper, client_for, sensor):
    response = client_for(keeper).get(f"/staff/climate/rooms/{sensor.room_id}/")
    assert response.status_code == 200
    days = response.context["compliance_days"]
    assert len(days) == 30 and days[0].day > days[-1].day  # the last 30 days, newest first
    assert 'name="temp_set"' in response.content.decode()  # set points editable here
    page = response.content.decode()
    assert page.count("<li><strong>") >= 3
    for word in ("<strong>确认</strong>：", "<strong>解除</strong>：", "<strong>结束</strong>："):
        assert word in page
    assert 'data-time-zone="Asia/Shanghai"' in page
    assert "vendor/chartjs-adapter-luxon/adapter.umd.min.js" in page


def test_hand_cleared_alarm_says_when_its_condition_persists(
    keeper, client_for, sensor, room, add_readings, django_assert_max_num_queries
):
    other = Sensor.objects.create(sensor_id="TH-02", room=room, interval_seconds=60)
    add_readings(sensor, NOW - 10 * M, 8, humidity=66)  # still above 60
    add_readings(other, NOW - 10 * M, 8, humidity=52)  # back in range
    cleared = []
    for s in (sensor, other):
        alarm, _ = services.raise_alarm(
            AlarmRule.HUMIDITY_HIGH,
            f"sensor:{s.sensor_id}",
            message=f"{s.sensor_id} high",
            room_id=room.pk,
            sensor_id=s.pk,
            value=66,
            now=NOW - 20 * M,
        )
        cleared.append(services.clear_alarm_manually(alarm, acting_user=keeper, note="看过了"))
    services.raise_alarm(  # open alarms are not judged (they say so themselves)
        AlarmRule.TEMPERATURE_HIGH,
        "sensor:TH-01",
        message="t",
        room_id=room.pk,
        sensor_id=sensor.pk,
    )
    with time_machine.travel(NOW, tick=False):
        with django_assert_max_num_queries(4):  # alarms, policy, one latest reading per sensor
            alarms = {a.pk: a for a in queries.room_alarms(room)}
        assert alarms[cleared[0].pk].condition_persists is True
        assert alarms[cleared[1].pk].condition_persists is False
        page = client_for(keeper).get(f"/staff/climate/rooms/{room.pk}/").content.decode()
    assert page.count("条件仍然存在") == 1
    row = page[page.index(f'data-alarm="{cleared[0].pk}"') :]
    assert row.index("条件仍然存在") < row.index("</tr>")


def test_room_page_marks_out_of_range_now(keeper, client_for, sensor, add_readings):
    add_readings(sensor, NOW - 10 * M, 8, temperature=12.5, humidity=50)
    with time_machine.travel(NOW, tick=False):
        page = client_for(keeper).get(f"/staff/climate/rooms/{sensor.room_id}/").content.decode()
    assert re.search(r'data-direction="low"[^>]*>超限<', page)
    assert '<span data-field="temperature">12.5</span>' in page


# --- history behind the room chart -----------------------------------------------------------


def assert_sorted(points):
    stamps = [dt.datetime.fromisoformat(p["ts"]) for p in points]
    assert stamps == sorted(stamps)


def test_week_returns_seven_days_of_five_minute_points_in_time_order(sensor, room):
    other = Sensor.objects.create(sensor_id="TH-02", room=room, interval_seconds=60)
    start = NOW - dt.timedelta(days=9)
    for s in (sensor, other):
        add_aggregates(s, AggregateBucket.FIVE_MINUTES, start, 9 * 288, step=5 * M)
    data = queries.history(room, "week", now=NOW)
    points = data["points"]
    assert data["bucket"] == "5m" and data["range"] == "week"
    assert dt.datetime.fromisoformat(data["since"]) == NOW - dt.timedelta(days=7)
    assert dt.datetime.fromisoformat(data["until"]) == NOW
    stamps = [dt.datetime.fromisoformat(p["ts"]) for p in points]
    assert min(stamps) >= NOW - dt.timedelta(days=7)
    assert max(stamps) - min(stamps) >= dt.timedelta(days=7) - 5 * M
    assert len(points) == 2 * 7 * 288  # both sensors, every 5 minutes
    assert_sorted(points)
    assert not any(p.get("gap") for p in points)
    assert {"temperature_min", "temperature_max", "humidity_min", "humidity_max"} <= set(points[0])
    assert points[0]["ts"].endswith("+08:00")  # the archive's time zone


def test_week_uses_hourly_rollups_where_no_five_minute_one_exists(sensor, room):
    add_aggregates(sensor, AggregateBucket.HOUR, NOW - dt.timedelta(days=8), 8 * 24, step=60 * M)
    add_aggregates(
        sensor, AggregateBucket.FIVE_MINUTES, NOW - dt.timedelta(hours=24), 288, step=5 * M
    )
    points = queries.history(room, "week", now=NOW)["points"]
    stamps = [dt.datetime.fromisoformat(p["ts"]) for p in points]
    assert min(stamps) - (NOW - dt.timedelta(days=7)) < dt.timedelta(hours=1)
    assert len(points) == 6 * 24 + 288
    assert_sorted(points)
    assert not any(p.get("gap") for p in points)


def test_each_range_has_its_own_span(sensor, room):
    add_aggregates(
        sensor,
        AggregateBucket.HOUR,
        NOW - dt.timedelta(days=400),
        400 * 24,
        step=60 * M,
        shuffle=False,
    )
    spans = {}
    for name in ("day", "week", "month", "year"):
        data = queries.history(room, name, now=NOW)
        since = dt.datetime.fromisoformat(data["since"])
        spans[name] = (NOW - since, data["bucket"])
        assert all(
            dt.datetime.fromisoformat(p["ts"]) >= since - dt.timedelta(days=1)
            for p in data["points"]
        )
    assert spans == {
        "day": (dt.timedelta(days=1), "raw"),
        "week": (dt.timedelta(days=7), "5m"),
        "month": (dt.timedelta(days=31), "1h"),
        "year": (dt.timedelta(days=366), "1d"),
    }
    month = queries.history(room, "month", now=NOW)["points"]
    assert len(month) == 31 * 24
    year = queries.history(room, "year", now=NOW)["points"]
    assert 366 <= len(year) <= 367  # days of the archive's time zone, both ends partial
    assert all(p["ts"].endswith("T00:00:00+08:00") for p in year)
    assert_sorted(year)


def test_year_folds_hours_into_local_days_with_min_max_and_weighted_mean(sensor, room):
    local = dt.datetime(2026, 6, 29, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    ReadingAggregate.objects.bulk_create(
        ReadingAggregate(
            sensor=sensor,
            room=room,
            bucket=AggregateBucket.HOUR,
            start=local + h * 60 * M,
            count=count,
            temperature_min=tmin,
            temperature_max=tmax,
            temperature_mean=mean,
            humidity_min=None,
            humidity_max=None,
            humidity_mean=None,
        )
        for h, count, tmin, tmax, mean in [
            (0, 10, 18.0, 20.0, 19.0),  # 06-29 00:00 Shanghai (06-28 16:00 UTC)
            (23, 30, 20.0, 23.0, 21.0),  # 06-29 23:00 Shanghai
            (24, 5, 17.0, 18.0, 17.5),  # 06-30 00:00 Shanghai
        ]
    )
    points = queries.history(room, "year", now=NOW)["points"]
    assert [p["ts"] for p in points] == ["2026-06-29T00:00:00+08:00", "2026-06-30T00:00:00+08:00"]
    first = points[0]
    assert (first["temperature_min"], first["temperature_max"]) == (18.0, 23.0)
    assert first["temperature"] == 20.5  # (19 × 10 + 21 × 30) / 40
    assert first["humidity"] is None


def test_day_is_raw_readings_of_24_hours_with_gaps_marked(sensor, add_readings):
    add_readings(sensor, NOW - dt.timedelta(hours=30), 60)  # older than a day: left out
    add_readings(sensor, NOW - 120 * M, 60, humidity=51)  # ... a 30-minute silence ...
    add_readings(sensor, NOW - 30 * M, 30, humidity=55)
    data = queries.history(sensor.room, "day", now=NOW)
    points = data["points"]
    assert data["bucket"] == "raw"
    assert_sorted(points)
    gaps = [p for p in points if p.get("gap")]
    assert len(gaps) == 1 and gaps[0]["humidity"] is None and gaps[0]["temperature"] is None
    assert dt.datetime.fromisoformat(gaps[0]["ts"]) == NOW - 60 * M  # after the last value
    assert len(points) == 60 + 30 + 1
    assert dt.datetime.fromisoformat(points[0]["ts"]) == NOW - 120 * M


def test_history_api_serves_the_asked_range(keeper, client_for, sensor):
    add_aggregates(sensor, AggregateBucket.HOUR, NOW - dt.timedelta(days=40), 40 * 24, step=60 * M)
    client = client_for(keeper)
    with time_machine.travel(NOW, tick=False):
        month = client.get(f"/api/v1/climate/rooms/{sensor.room_id}/history/?range=month").json()
    assert month["range"] == "month" and month["bucket"] == "1h"
    assert month["time_zone"] == "Asia/Shanghai"
    assert month["until"] == "2026-07-01T12:00:00+08:00"
    assert month["since"] == "2026-05-31T12:00:00+08:00"
    assert len(month["points"]) == 31 * 24


def test_alarms_are_sorted_newest_first_with_titles(sensor):
    for minutes in (30, 10, 20):
        services.raise_alarm(
            AlarmRule.OFFLINE,
            f"sensor:X{minutes}",
            message="offline",
            room_id=sensor.room_id,
            now=NOW - minutes * M,
        )
    alarms = queries.room_alarms(sensor.room)
    assert [a.raised_at for a in alarms] == sorted((a.raised_at for a in alarms), reverse=True)
    assert all(a.title and a.condition_persists is False for a in alarms)
    assert Alarm.objects.count() == 3
