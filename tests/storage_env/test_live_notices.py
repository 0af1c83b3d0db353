"""Live notices on every page, end to end: the real ASGI server (uvicorn) with websockets, the
Redis channel layer, headless Chromium. An alarm raised in a room reaches the page of the
keeper named for that room, as text with a link to the room; another keeper sees nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from storage_env import services
from storage_env.choices import AlarmRule
from tests.e2e.conftest import asgi_server, chromium, signed_in_page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def raise_in_room(room, sensor) -> None:
    try:
        services.raise_alarm(
            AlarmRule.HUMIDITY_HIGH,
            "sensor:TH-01",
            message="TH-01: 湿度高于 60 %RH (70) <b>x</b>",
            room_id=room.pk,
            sensor_id=sensor.pk,
        )
    finally:
        connection.close()


def wait_connected(page) -> None:
    expect(page.locator("#live-notices")).to_have_attribute("data-connected", "1")


def test_alarm_notice_reaches_the_rooms_keeper_on_any_page(
    chromium,  # noqa: F811
    asgi_server,  # noqa: F811
    personas,
    room,
    sensor,
):
    keeper, other = personas["keeper"], personas["admin"]
    room.keepers.add(keeper)
    errors: list[str] = []
    mine = signed_in_page(chromium, asgi_server, keeper)
    theirs = signed_in_page(chromium, asgi_server, other)
    try:
        mine.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        mine.goto("/staff/")
        theirs.goto("/staff/")
        wait_connected(mine)
        wait_connected(theirs)
        # From another thread, as the alarm engine would: Playwright's sync API keeps an event
        # loop running in this one, where the push's async_to_sync may not run.
        raised = threading.Thread(target=raise_in_room, args=(room, sensor))
        raised.start()
        raised.join(10)
        notice = mine.locator(".live-notice-alarm")
        expect(notice).to_contain_text("告警：TH-01: 湿度高于 60 %RH (70) <b>x</b>")  # as text
        link = notice.locator("a")
        expect(link).to_have_attribute("href", f"/staff/climate/rooms/{room.pk}/")
        notice.locator("button").click()
        expect(mine.locator(".live-notice")).to_have_count(0)
        mine.wait_for_timeout(300)
        expect(theirs.locator(".live-notice")).to_have_count(0)
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        mine.context.close()
        theirs.context.close()
