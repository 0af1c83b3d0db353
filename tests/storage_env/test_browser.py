"""The climate dashboard and room page in headless Chromium (phone viewport): values render,
a new alarm shows up from the database re-sync, the history chart draws, no CSP violations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from devices.models import Sensor
from storage_env import services
from storage_env.choices import AggregateBucket, AlarmRule
from storage_env.models import Reading, ReadingAggregate
from tests.conftest import PASSWORD
from tests.e2e.conftest import (  # noqa: F401 - fixtures
    PHONE,
    chromium,
    collect_console_errors,
    page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, username: str) -> None:  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_url("**/staff/")


def test_dashboard_shows_rooms_and_a_new_alarm_without_reload(page, keeper, sensor):  # noqa: F811
    errors = collect_console_errors(page)
    Reading.objects.create(
        sensor=sensor, room=sensor.room, ts=timezone.now(), temperature=21.5, humidity=52.0
    )
    login(page, "keeper")
    page.goto("/staff/climate/")
    card = page.locator(f'[data-room="{sensor.room_id}"]')
    expect(card).to_contain_text("21.5")
    expect(card).to_have_attribute("data-state", "ok")
    services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message="TH-01: 湿度高于 60 %RH (71)",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
        value=71,
    )
    expect(card).to_contain_text("湿度高于 60 %RH", timeout=30_000)
    expect(card).to_have_attribute("data-state", "warning")
    page.goto(f"/staff/climate/rooms/{sensor.room_id}/")
    # The chart box names the range on screen once both charts are drawn (static/storage_env/
    # room.js): a condition the page exposes, read without string evaluation (the page's CSP
    # has no 'unsafe-eval').
    expect(page.locator("#climate-chart")).to_have_attribute("data-loaded", "day")
    assert page.evaluate("() => !!Chart.getChart('climate-chart-temperature')")
    assert not [e for e in errors if "Content Security Policy" in e], errors


# --- a keeper's phone and desk: the dashboard and a busy room page ---------------------------

DESKTOP = {"width": 1366, "height": 900}
LONG_MESSAGE = "TH-01: 湿度持续高于 60 %RH，请检查除湿机与门窗密封情况" + "；" + "x" * 120
SHOTS = "/tmp/lantai-climate"


def busy_room(room, sensor, keeper):
    """A room a keeper worries about: a day of readings with a silent hour, a week of 5-minute
    and a year of hourly rollups, humidity out of range now, device alarms (known and unknown
    codes), a long message, and a hand-cleared alarm whose condition persists."""
    other = Sensor.objects.create(sensor_id="TH-02-NORTH-WALL", room=room, interval_seconds=60)
    now = timezone.now().replace(second=0, microsecond=0)
    rows = []
    for s, offset in ((sensor, 0.0), (other, 1.5)):
        for m in range(24 * 60, 0, -1):
            if 300 < m < 360:  # a silent hour about five hours ago
                continue
            humidity = 55 + offset + 8 * (m < 90)  # above 60 %RH for the last 90 minutes
            rows.append(
                Reading(
                    sensor=s,
                    room=room,
                    ts=now - dt.timedelta(minutes=m),
                    temperature=20 + offset + (m % 120) / 60,
                    humidity=humidity,
                )
            )
    Reading.objects.bulk_create(rows)
    aggregates = []
    for s, offset in ((sensor, 0.0), (other, 1.5)):
        for bucket, step, count in (
            (AggregateBucket.FIVE_MINUTES, 5, 7 * 288),
            (AggregateBucket.HOUR, 60, 366 * 24),
        ):
            start = now - dt.timedelta(minutes=step * count)
            for i in range(count):
                wave = ((i * step) % 1440) / 1440
                aggregates.append(
                    ReadingAggregate(
                        sensor=s,
                        room=room,
                        bucket=bucket,
                        count=5,
                        start=start + dt.timedelta(minutes=step * i),
                        temperature_min=19 + offset,
                        temperature_max=21 + offset + wave,
                        temperature_mean=20 + offset + wave / 2,
                        humidity_min=50 + offset,
                        humidity_max=57 + offset + 4 * wave,
                        humidity_mean=53 + offset + 2 * wave,
                    )
                )
    ReadingAggregate.objects.bulk_create(aggregates, batch_size=5000)
    services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message=LONG_MESSAGE,
        room_id=room.pk,
        sensor_id=sensor.pk,
        value=63.5,
    )
    services.apply_device_alarm(
        sensor=other, code="water_leak", severity="critical", active=True, message="", now=now
    )
    services.apply_device_alarm(
        sensor=other, code="zz_custom", severity="minor", active=True, message="zz_custom", now=now
    )
    persisting, _ = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-02-NORTH-WALL",
        message="TH-02: 湿度高于 60 %RH",
        room_id=room.pk,
        sensor_id=other.pk,
        value=64,
        now=now - dt.timedelta(hours=1),
    )
    services.clear_alarm_manually(persisting, acting_user=keeper, note="已开除湿机")


def keeper_page(browser, live_server, user, viewport):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport, locale="zh-CN", base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return tab


WIDTH = "() => document.documentElement.scrollWidth"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_climate_pages_read_at_a_glance(
    chromium,  # noqa: F811 - fixture
    live_server,
    settings,
    keeper,
    room,
    sensor,
    viewport,
):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    busy_room(room, sensor, keeper)
    Path(SHOTS).mkdir(exist_ok=True)
    name = "phone" if viewport == PHONE else "desktop"
    tab = keeper_page(chromium, live_server, keeper, viewport)
    errors = collect_console_errors(tab)
    tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    tab.goto("/staff/climate/")
    card = tab.locator(f'.climate-room[data-room="{room.pk}"]')
    marker = card.locator('[data-marker="humidity"]')
    expect(marker).to_be_visible()
    expect(marker).to_have_text("超限")
    expect(card.locator(".climate-alarms")).to_contain_text("漏水")
    expect(card.locator(".climate-alarms")).to_contain_text("未知代码（zz_custom）")
    expect(card.locator('[data-field="ago"]')).to_contain_text("分钟前")
    expect(card.locator('[data-spark="humidity"] polyline').first).to_be_attached()
    expect(card.locator("form.climate-ack button").first).to_be_visible()
    assert tab.evaluate(WIDTH) <= viewport["width"]
    tab.screenshot(path=f"{SHOTS}/dashboard-{name}.png", full_page=True)

    tab.goto(f"/staff/climate/rooms/{room.pk}/")
    chart = tab.locator("#climate-chart")
    expect(chart).to_have_attribute("data-loaded", "day")  # both charts drawn (room.js)
    expect(tab.locator('[data-marker="humidity"]')).to_be_visible()
    alarms = tab.locator(".climate-alarm-table")
    expect(alarms).to_contain_text("漏水")
    expect(alarms).to_contain_text("条件仍然存在")
    expect(tab.locator(".climate-lifecycle li")).to_have_count(3)
    assert tab.evaluate(WIDTH) <= viewport["width"]
    day = tab.evaluate(
        """() => { const c = Chart.getChart('climate-chart-humidity');
            const gaps = c.data.datasets[0].data.filter(p => p.y === null).length;
            const xs = c.data.datasets[0].data.map(p => p.x);
            return {span: c.scales.x.max - c.scales.x.min, type: c.scales.x.type, gaps: gaps,
                    sorted: xs.every((x, i) => i === 0 || xs[i - 1] <= x)}; }"""
    )
    assert day == {"span": 24 * 3600 * 1000, "type": "time", "gaps": 1, "sorted": True}
    tab.screenshot(path=f"{SHOTS}/room-{name}.png", full_page=True)

    tab.get_by_role("button", name="周").click()
    expect(chart).to_have_attribute("data-loaded", "week")
    week = tab.evaluate(
        """() => { const c = Chart.getChart('climate-chart-temperature');
            return {span: c.scales.x.max - c.scales.x.min,
                    envelope: c.data.datasets.filter(d => d.envelope).length,
                    points: c.data.datasets[2].data.length}; }"""
    )
    assert week["span"] == 7 * 24 * 3600 * 1000 and week["envelope"] == 4
    assert week["points"] >= 7 * 288 - 2
    assert tab.evaluate(WIDTH) <= viewport["width"]
    tab.locator("#climate-chart").screenshot(path=f"{SHOTS}/room-week-{name}.png")
    tab.get_by_role("button", name="年").click()
    expect(chart).to_have_attribute("data-loaded", "year")
    tab.locator("#climate-chart").screenshot(path=f"{SHOTS}/room-year-{name}.png")
    assert not [e for e in errors if "Content Security Policy" in e or "pageerror" in e], errors
