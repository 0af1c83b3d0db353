"""Live notices on every page, end to end: the real ASGI server (uvicorn) with websockets, the
Redis channel layer, headless Chromium. An alarm raised in a room reaches the page of the
keeper named for that room, as text with a link to the room, in that keeper's language; another
keeper sees nothing of it (shown by an alarm of their own arriving after it on the same
channel: the channel delivers in order)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from core.messages import ref
from repository.models import StoreRoom
from storage_env import messages as alarm_messages
from storage_env import services
from storage_env.choices import AlarmRule
from tests.e2e.conftest import asgi_server, chromium, signed_in_page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def raise_in_room(room, sensor) -> None:
    try:
        services.raise_alarm(
            AlarmRule.HUMIDITY_HIGH,
            "sensor:TH-01",
            message=ref(
                alarm_messages.SENSOR_SAID,
                sensor="TH-01 <b>x</b>",
                text=ref(alarm_messages.RH_HIGH, value="70", limit="60"),
                notes=[],
            ),
            room_id=room.pk,
            sensor_id=sensor.pk,
        )
    finally:
        connection.close()


def raise_offline_in(room) -> None:
    try:
        services.raise_alarm(
            AlarmRule.OFFLINE,
            "sensor:TH-09",
            message=ref(alarm_messages.OFFLINE_NEVER, sensor="TH-09"),
            room_id=room.pk,
        )
    finally:
        connection.close()


def in_thread(target, *args) -> None:
    # From another thread, as the alarm engine would: Playwright's sync API keeps an event
    # loop running in this one, where the push's async_to_sync may not run.
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join(10)


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
    keeper.preferred_language = "en"  # the archive runs in zh-hans; this keeper reads English
    keeper.save(update_fields=["preferred_language"])
    room.keepers.add(keeper)
    their_room = StoreRoom.objects.create(code="K09", name="九号库房")
    their_room.keepers.add(other)
    errors: list[str] = []
    mine = signed_in_page(chromium, asgi_server, keeper)
    theirs = signed_in_page(chromium, asgi_server, other)
    try:
        mine.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        mine.goto("/staff/")
        theirs.goto("/staff/")
        wait_connected(mine)
        wait_connected(theirs)
        in_thread(raise_in_room, room, sensor)
        notice = mine.locator(".live-notice-alarm")
        # in the keeper's language, the sensor's name as text (not markup)
        expect(notice).to_contain_text("TH-01 <b>x</b>: humidity 70 %RH above 60 %RH")
        link = notice.locator("a")
        expect(link).to_have_attribute("href", f"/staff/climate/rooms/{room.pk}/")
        notice.locator("button").click()
        expect(mine.locator(".live-notice")).to_have_count(0)
        # The ordering signal: an alarm in the room the other keeper keeps reaches them on the
        # same channel after the first one would have; once it is shown, the first never was.
        in_thread(raise_offline_in, their_room)
        expect(theirs.locator(".live-notice-alarm")).to_contain_text("TH-09：尚无数据")
        expect(theirs.locator(".live-notice")).to_have_count(1)
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        mine.context.close()
        theirs.context.close()
