"""Live push on the embedded default (no Redis): an alarm raised in another process (here the
test process, as the alarm engine would) reaches the keeper's open page through the database
relay of the real web server (uvicorn)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from storage_env import services
from storage_env.choices import AlarmRule
from tests.e2e.conftest import asgi_server_embedded, chromium, signed_in_page  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def raise_device_alarm(room, sensor) -> None:
    try:
        services.raise_alarm(
            AlarmRule.DEVICE,
            "sensor:TH-01:smoke",
            message="TH-01: smoke",
            room_id=room.pk,
            sensor_id=sensor.pk,
            code="smoke",
        )
    finally:
        connection.close()


def test_a_smoke_alarm_from_another_process_reaches_the_keepers_page_without_redis(
    chromium,  # noqa: F811
    asgi_server_embedded,  # noqa: F811
    personas,
    room,
    sensor,
):
    keeper = personas["keeper"]
    room.keepers.add(keeper)
    page = signed_in_page(chromium, asgi_server_embedded, keeper)
    try:
        page.goto("/staff/")
        expect(page.locator("#live-notices")).to_have_attribute("data-connected", "1")
        raised = threading.Thread(target=raise_device_alarm, args=(room, sensor))
        raised.start()
        raised.join()
        # A live notice has no other way to the page than the socket (static/js/lantai.js
        # re-syncs nothing into #live-notices), so its arrival is the relay's proof; how fast
        # it comes is measured by bench/alarm_latency.py, not asserted on a loaded test machine.
        expect(page.locator(".live-notice-alarm")).to_contain_text("TH-01: smoke")
    finally:
        page.context.close()
