"""Daily compliance with JGJ 25-2010 §5.2 in the standard's own numbers: deviation from the set
point (±2 °C / ±5 %RH per day and night), time weighting, days of the archive's time zone,
days without data, completeness; mould and condensation tiers; the CSV and the include."""

import csv
import datetime as dt
import io
import os
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from playwright.sync_api import sync_playwright

from devices.models import Sensor
from storage_env import services
from storage_env.choices import AlarmRule
from storage_env.compliance import (
    ComplianceStatus,
    RiskTier,
    condensation_risk,
    daily_compliance,
    deviation_from_setpoint,
    fluctuation,
    month_days,
    mould_risk,
    seconds_outside,
    sustained_deviation,
    time_weighted_mean,
)
from storage_env.models import ClimatePolicy, Reading
from storage_env.policy_views import csv_safe
from storage_env.rollup import rollup
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.gates import require_chromium

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 10)
DAY_START = dt.datetime(2026, 3, 10, tzinfo=SHANGHAI)
URLS = "tests.storage_env.urls_compliance"


def minutes(start, values, step=1):
    """``(time, value)`` every ``step`` minutes from ``start``."""
    return [(start + dt.timedelta(minutes=i * step), v) for i, v in enumerate(values)]


def square_wave(low, high, hours=24, half_period_hours=2):
    """``low`` for two hours, ``high`` for two hours, … over a day, one sample a minute."""
    return minutes(
        DAY_START,
        [low if (m // (60 * half_period_hours)) % 2 == 0 else high for m in range(hours * 60)],
    )


# --- pure functions -------------------------------------------------------------------------


def test_symmetric_swing_around_the_set_point_is_within_two_degrees():
    samples = square_wave(18.0, 22.0)
    around_20 = fluctuation(samples, 20.0, until=DAY_START + dt.timedelta(days=1))
    assert around_20.max_deviation == 2.0  # exactly ±2 °C: "不得大于" — still allowed
    assert around_20.within(2.0)
    assert (around_20.low, around_20.high, around_20.range) == (18.0, 22.0, 4.0)
    assert around_20.mean == 20.0
    around_19 = fluctuation(samples, 19.0)
    assert around_19.max_deviation == 3.0
    assert not around_19.within(2.0)


def test_a_short_spike_is_weighted_by_time_a_long_one_is_not():
    flat = [20.0] * 120
    spike = list(flat)
    spike[62] = 22.5  # one reading, held one minute
    short = fluctuation(minutes(DAY_START, spike), 20.0)
    assert short.peak_deviation == 2.5
    assert short.max_deviation == 0.5  # (4 × 20 + 22.5) / 5 over its 5-minute window
    assert short.within(2.0)
    assert sustained_deviation(minutes(DAY_START, spike), 20.0, dt.timedelta(minutes=10)) == 0
    long = list(flat)
    long[60:75] = [22.5] * 15
    held = fluctuation(minutes(DAY_START, long), 20.0)
    assert held.max_deviation == 2.5 and not held.within(2.0)
    assert sustained_deviation(minutes(DAY_START, long), 20.0, dt.timedelta(minutes=10)) == 2.5


def test_time_weighting_holds_each_value_until_the_next_and_caps_gaps():
    samples = [(DAY_START, 10.0), (DAY_START + dt.timedelta(minutes=50), 20.0)]
    until = DAY_START + dt.timedelta(minutes=60)
    assert time_weighted_mean(samples, until=until) == pytest.approx((10 * 50 + 20 * 10) / 60)
    capped = time_weighted_mean(samples, until=until, max_gap=dt.timedelta(minutes=10))
    assert capped == pytest.approx(15.0)
    assert seconds_outside(samples, 0, 15, until=until) == 600
    assert deviation_from_setpoint(reversed(samples), 18.0) == [
        (DAY_START, -8.0),
        (DAY_START + dt.timedelta(minutes=50), 2.0),
    ]
    assert fluctuation([], 20.0) is None


def test_mould_risk_tiers_and_days_estimate():
    assert mould_risk(60).tier == RiskTier.NONE
    assert mould_risk(65).tier == RiskTier.NONE
    watch = mould_risk(70, hours_above=12)
    assert watch.tier == RiskTier.WATCH and watch.days_to_mould is None
    assert mould_risk(80).days_to_mould == 5.0
    assert mould_risk(85).days_to_mould == 3.0
    assert mould_risk(90).days_to_mould == 1.0
    assert mould_risk(97).days_to_mould == 1.0
    high = mould_risk(85, hours_above=48)
    assert high.tier == RiskTier.HIGH and high.days_left == 1.0
    assert mould_risk(85, hours_above=200).days_left == 0.0
    assert mould_risk(None).tier == RiskTier.NONE


def test_condensation_risk_against_the_dew_point():
    assert condensation_risk(10.0, 10.0).tier == RiskTier.HIGH
    assert condensation_risk(9.0, 10.0).margin == -1.0
    assert condensation_risk(11.5, 10.0).tier == RiskTier.WATCH
    assert condensation_risk(13.0, 10.0).tier == RiskTier.NONE
    assert condensation_risk(13.0, 10.0, margin=3.0).tier == RiskTier.WATCH
    assert condensation_risk(None, 10.0).tier == RiskTier.NONE


def test_month_days_know_their_length():
    assert month_days("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert month_days("2028-02")[1] == dt.date(2028, 2, 29)
    assert month_days("2026-04")[1] == dt.date(2026, 4, 30)
    assert month_days("2026-12")[1] == dt.date(2026, 12, 31)
    for bad in ("2026-13", "26-1", "March", "2026-00"):
        with pytest.raises(ValueError):
            month_days(bad)


# --- the query layer ------------------------------------------------------------------------


@pytest.fixture
def climate_room(room, sensor):
    Sensor.objects.filter(pk=sensor.pk).update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ClimatePolicy.objects.filter(room=room).update(temp_set=20.0, rh_set=50.0)
    return room


def store(sensor, samples, humidity=50.0):
    Reading.objects.bulk_create(
        Reading(sensor=sensor, room_id=sensor.room_id, ts=ts, temperature=value, humidity=humidity)
        for ts, value in samples
    )


AFTER = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_day_within_two_degrees_of_the_set_point_is_compliant(climate_room, sensor):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    store(sensor, square_wave(18.0, 22.0))
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.status == ComplianceStatus.COMPLIANT
    assert day.temperature.max_deviation == 2.0
    assert (day.temperature.minimum, day.temperature.maximum, day.temperature.range) == (
        18.0,
        22.0,
        4.0,
    )
    assert day.temperature.mean == 20.0
    assert day.completeness == 100.0
    assert day.temperature.minutes_out_of_band == 0
    ClimatePolicy.objects.filter(room=climate_room).update(temp_set=19.0)
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.status == ComplianceStatus.NOT_COMPLIANT
    assert day.temperature.max_deviation == 3.0 and not day.temperature.deviation_ok
    with translation.override("en"):
        [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.reasons == ["Temperature 3 °C from the set point 19 (allowed ±2)"]


def test_minutes_out_of_band_make_a_day_fail(climate_room, sensor):
    values = [20.0] * 1440
    values[600:630] = [24.5] * 30  # 30 minutes above 24 °C (paper store: 14–24 °C)
    store(sensor, minutes(DAY_START, values))
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.temperature.minutes_out_of_band == 30
    assert day.minutes_out_of_band == 30
    assert day.status == ComplianceStatus.NOT_COMPLIANT


def test_days_end_at_midnight_in_the_archive_time_zone(climate_room, sensor):
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC on March 1
    early = dt.datetime(2026, 3, 3, 0, 10, tzinfo=SHANGHAI)  # 16:10 UTC on March 2
    store(sensor, [(late, 20.0), (early, 20.0)])
    days = daily_compliance(climate_room, dt.date(2026, 3, 1), dt.date(2026, 3, 3), now=AFTER)
    assert [d.day for d in days] == [dt.date(2026, 3, d) for d in (1, 2, 3)]
    assert [d.has_data for d in days] == [True, False, True]
    assert days[1].status == ComplianceStatus.NO_DATA
    assert not days[1].compliant
    assert days[1].completeness == 0.0
    assert days[0].completeness == pytest.approx(100 * 60 / 86400, abs=0.1)


def test_partial_completeness_and_a_day_still_to_come(climate_room, sensor):
    store(sensor, minutes(DAY_START, [20.0] * 720))  # half a day, one reading a minute
    noon = DAY_START + dt.timedelta(hours=12)
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.completeness == 50.0
    assert day.status == ComplianceStatus.COMPLIANT  # judged on what is there
    [today] = daily_compliance(climate_room, DAY, DAY, now=noon)  # half the day has passed
    assert today.completeness == 100.0
    assert daily_compliance(climate_room, DAY + dt.timedelta(days=1), DAY, now=noon) == []
    [future] = daily_compliance(
        climate_room, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1), now=noon
    )
    assert future.completeness is None and future.status == ComplianceStatus.NO_DATA
    Sensor.objects.filter(pk=sensor.pk).update(interval_seconds=120)  # due every 2 minutes
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.completeness == 50.0  # 720 readings cover 12 h whatever comes more often


def test_rollups_and_raw_readings_give_the_same_day(climate_room, sensor):
    values = [20.0 + (1.5 if 300 <= m < 320 else 0.0) for m in range(1440)]
    store(sensor, minutes(DAY_START, values), humidity=48.0)
    raw = daily_compliance(climate_room, DAY, DAY, now=AFTER)[0]
    # Roll the day up: from now on it is read from the 5-minute aggregates.
    end = DAY_START + dt.timedelta(days=1, minutes=5)
    while rollup("5m", now=end):
        pass
    rolled = daily_compliance(climate_room, DAY, DAY, now=AFTER)[0]
    assert rolled == raw
    assert rolled.temperature.max_deviation == 1.5
    assert rolled.humidity.mean == 48.0


def test_hourly_history_counts_where_no_five_minute_rollup_exists(climate_room, sensor):
    from storage_env.models import ReadingAggregate, RollupWatermark

    RollupWatermark.objects.create(bucket="5m", until=AFTER)
    ReadingAggregate.objects.bulk_create(
        ReadingAggregate(
            sensor=sensor,
            room=climate_room,
            bucket="1h",
            start=DAY_START + dt.timedelta(hours=h),
            count=60,
            temperature_min=19.0,
            temperature_max=21.0,
            temperature_mean=20.0 + (2.5 if h == 14 else 0.0),
            humidity_min=49.0,
            humidity_max=51.0,
            humidity_mean=50.0,
        )
        for h in range(24)
    )
    [day] = daily_compliance(climate_room, DAY, DAY, now=AFTER)
    assert day.completeness == 100.0
    assert day.temperature.max_deviation == 2.5
    assert day.status == ComplianceStatus.NOT_COMPLIANT


def test_alarms_are_counted_on_the_day_they_were_raised_locally(climate_room, sensor):
    alarm, created = services.raise_alarm(
        AlarmRule.TEMPERATURE_HIGH,
        "sensor:TH-01",
        message="温度高于 24 °C",
        room_id=climate_room.pk,
        now=dt.datetime(2026, 3, 10, 23, 50, tzinfo=SHANGHAI),
    )
    assert created and alarm.pk
    days = daily_compliance(climate_room, DAY, DAY + dt.timedelta(days=1), now=AFTER)
    assert [d.alarms for d in days] == [1, 0]


def test_a_month_costs_the_same_queries_as_a_day(
    climate_room, sensor, django_assert_max_num_queries
):
    store(sensor, square_wave(19.0, 21.0))
    with django_assert_max_num_queries(6):
        daily_compliance(climate_room, DAY, DAY, now=AFTER)
    with django_assert_max_num_queries(6):
        days = daily_compliance(climate_room, dt.date(2026, 3, 1), dt.date(2026, 3, 31), now=AFTER)
    assert len(days) == 31


# --- CSV and include ------------------------------------------------------------------------


def test_csv_cells_cannot_start_formulas():
    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_safe("+1") == "'+1"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("-1+2") == "'-1+2"
    assert csv_safe("-3.5") == "-3.5"  # a plain number stays a number
    assert csv_safe("\tx") == "'\tx"
    assert csv_safe(None) == ""
    assert csv_safe("K01") == "K01"


@pytest.mark.urls(URLS)
def test_compliance_csv_is_excel_ready_chinese_and_escaped(
    climate_room, sensor, keeper, researcher, client_for
):
    climate_room.code = "=K01"
    climate_room.save()
    store(sensor, square_wave(18.0, 22.0))
    url = f"/staff/climate/rooms/{climate_room.pk}/compliance.csv?month=2026-03"
    response = client_for(keeper).get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "compliance-_K01-2026-03.csv" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["库房", "日期", "状态"]
    assert "数据完整率（%）" in header
    assert len(body) == 31
    tenth = body[9]
    assert tenth[:3] == ["'=K01", "2026-03-10", "符合"]
    assert body[0][2] == "无数据"
    assert client_for(researcher).get(url).status_code == 404
    bad = client_for(keeper).get(url.replace("2026-03", "2026-13"))
    assert bad.status_code == 400


def test_include_flags_failing_cells_with_words_not_colour_only(climate_room, sensor):
    values = [20.0] * 1440
    values[600:630] = [24.5] * 30
    store(sensor, minutes(DAY_START, values))
    days = daily_compliance(climate_room, DAY, DAY + dt.timedelta(days=1), now=AFTER)
    with translation.override("zh-hans"):
        html = render_to_string("storage_env/_compliance.html", {"compliance_days": days})
    assert 'data-status="not_compliant"' in html and 'data-status="no_data"' in html
    assert "✗ 不符合" in html and "无数据" in html
    assert 'class="compliance-bad"' in html and "超限" in html
    assert 'data-label="日期"' in html  # the phone cards carry their own labels
    assert "Asia/Shanghai" in html


@pytest.mark.e2e
def test_phone_shows_each_day_as_a_card_without_sideways_scrolling(climate_room, sensor):
    path = require_chromium()

    values = [20.0] * 1440
    values[600:630] = [24.5] * 30
    store(sensor, minutes(DAY_START, values))
    days = daily_compliance(climate_room, dt.date(2026, 3, 8), DAY, now=AFTER)
    with translation.override("zh-hans"):
        table = render_to_string("storage_env/_compliance.html", {"compliance_days": days})
    static = Path(settings.BASE_DIR) / "static"
    html = "<!doctype html><html lang=zh><head><meta name=viewport content='width=device-width'>"
    html += f"</head><body><main class=container>{table}</main></body></html>"
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            for width, cards in ((360, True), (1200, False)):
                page = browser.new_page(viewport={"width": width, "height": 800})
                page.set_content(html)
                page.add_style_tag(path=str(static / "vendor/pico/pico.min.css"))
                page.add_style_tag(path=str(static / "css/lantai.css"))
                page.add_style_tag(path=str(static / "storage_env/compliance.css"))
                overflow = page.evaluate(
                    "() => document.documentElement.scrollWidth"
                    " - document.documentElement.clientWidth"
                )
                row_display = page.evaluate(
                    "() => getComputedStyle(document.querySelector('tbody tr')).display"
                )
                label = page.evaluate(
                    "() => getComputedStyle(document.querySelector('tbody td'), '::before').content"
                )
                assert overflow <= 0, (width, overflow)
                assert (row_display == "block") is cards, (width, row_display)
                if cards:
                    assert "状态" in label
                page.close()
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
