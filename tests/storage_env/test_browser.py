"""The climate dashboard and room page in headless Chromium (phone viewport): values render,
a new alarm shows up from the database re-sync, the history chart draws, no CSP violations."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from storage_env import services
from storage_env.choices import AlarmRule
from storage_env.models import Reading
from tests.conftest import PASSWORD
from tests.e2e.conftest import chromium, collect_console_errors, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, username: str) -> None:  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()


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
    # Polled from Python: Playwright's wait_for_function evaluates strings, which the page's
    # CSP (no 'unsafe-eval') rightly refuses.
    deadline = time.monotonic() + 30
    drawn = False
    while not drawn and time.monotonic() < deadline:
        drawn = page.evaluate(
            "() => !!(window.Chart && Chart.getChart('climate-chart-temperature'))"
        )
        time.sleep(0.2)
    assert drawn
    assert not [e for e in errors if "Content Security Policy" in e], errors
