"""The monthly PDF: the daily compliance table for every day of the month (28–31), "无数据"
for days without data, hours out of band and alarms counted per day of the archive's time zone,
the chart's axis as long as the month, Chinese text in an embedded font."""

import datetime as dt
import shutil
import subprocess
import zoneinfo

import pytest

from devices.models import Sensor
from storage_env import services
from storage_env.choices import AlarmRule
from storage_env.compliance import ComplianceStatus
from storage_env.models import ClimatePolicy, Reading
from storage_env.reports import _chart, _daily_table, month_summary, monthly_report_pdf
from tests.pdf import pdf_has_cjk_font

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AFTER = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def climate_room(room, sensor):
    Sensor.objects.filter(pk=sensor.pk).update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    ClimatePolicy.objects.filter(room=room).update(temp_set=20.0, rh_set=50.0)
    return room


def fill_day(sensor, day: dt.date, temperature=20.0, humidity=50.0, hot_minutes=0):
    start = dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)
    Reading.objects.bulk_create(
        Reading(
            sensor=sensor,
            room_id=sensor.room_id,
            ts=start + dt.timedelta(minutes=m),
            temperature=temperature + (5.0 if m < hot_minutes else 0.0),
            humidity=humidity,
        )
        for m in range(0, 1440, 5)
    )


@pytest.mark.parametrize(
    ("month", "length"), [("2026-02", 28), ("2028-02", 29), ("2026-04", 30), ("2026-03", 31)]
)
def test_every_day_of_the_month_and_an_axis_as_long_as_the_month(climate_room, month, length):
    summary = month_summary(climate_room, month, now=AFTER)
    days = summary["days"]
    assert len(days) == length
    assert days[0].day.day == 1 and days[-1].day.day == length
    chart = _chart(days, "temperature", summary["policy"], "Helvetica")
    plot = chart.contents[0]
    assert (plot.xValueAxis.valueMin, plot.xValueAxis.valueMax) == (1, length)
    assert plot.xValueAxis.valueSteps[-1] == length
    pdf = monthly_report_pdf(climate_room, month, now=AFTER)
    assert pdf.startswith(b"%PDF") and pdf_has_cjk_font(pdf)


def test_days_without_data_say_so_and_failing_days_are_marked(climate_room, sensor):
    fill_day(sensor, dt.date(2026, 3, 2))
    fill_day(sensor, dt.date(2026, 3, 3), hot_minutes=60)  # 25 °C for an hour: out of band
    summary = month_summary(climate_room, "2026-03", now=AFTER)
    days = summary["days"]
    assert [d.status for d in days[:3]] == [
        ComplianceStatus.NO_DATA,
        ComplianceStatus.COMPLIANT,
        ComplianceStatus.NOT_COMPLIANT,
    ]
    assert (summary["compliant"], summary["not_compliant"], summary["no_data"]) == (1, 1, 29)
    assert summary["hours_out"] == 1.0
    cells = _daily_table(days, "Helvetica")._cellvalues
    first, third = cells[2], cells[4]  # after the two header rows
    assert first[1] == "无数据" and first[2] == "无数据"
    assert third[1] == "不符合" and third[5].endswith("超")


def test_alarms_are_those_raised_within_the_month_in_the_archive_time_zone(climate_room):
    for when, subject in (
        (dt.datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI), "a"),  # 15:30 UTC: March
        (dt.datetime(2026, 4, 1, 0, 10, tzinfo=SHANGHAI), "b"),  # 16:10 UTC on 31 March: April
        (dt.datetime(2026, 3, 1, 0, 5, tzinfo=SHANGHAI), "c"),  # 16:05 UTC on 28 Feb: March
    ):
        services.raise_alarm(
            AlarmRule.HUMIDITY_HIGH, subject, message="湿度高", room_id=climate_room.pk, now=when
        )
    march = month_summary(climate_room, "2026-03", now=AFTER)
    assert sorted(a.subject for a in march["alarms"]) == ["a", "c"]
    assert sum(d.alarms for d in march["days"]) == 2
    assert march["days"][-1].alarms == 1 and march["days"][0].alarms == 1
    april = month_summary(climate_room, "2026-04", now=AFTER)
    assert [a.subject for a in april["alarms"]] == ["b"]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) missing")
def test_pdf_text_states_its_basis(climate_room, sensor):
    fill_day(sensor, dt.date(2026, 2, 10))
    pdf = monthly_report_pdf(climate_room, "2026-02", now=AFTER)
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert "Asia/Shanghai" in text
    assert "本月共 28 天" in text
    assert "无数据" in text and "符合" in text
    assert "JGJ 25-2010" in text
