"""An alarm raised while the archive runs in zh-hans is read in each reader's language: on the
room page, in the API, in the alarms CSV and in the websocket push (the connection's reader).
Its text is stored as a message code and parameters; a device's own text stays as sent."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import translation

from config.asgi import application
from core.messages import ref
from storage_env import messages as alarm_messages
from storage_env import services
from storage_env.choices import AlarmRule
from storage_env.engine import AlarmEngine
from storage_env.models import Alarm
from tests.storage_env.conftest import NOW

EN = "TH-01: battery 9 %"
ZH = "TH-01：电量 9 %"


@pytest.fixture
def battery_alarm(sensor, settings):
    """Raised by the engine as it runs: in the archive's language (zh-hans)."""
    assert settings.LANGUAGE_CODE == "zh-hans"
    sensor.battery = 9
    sensor.save(update_fields=["battery"])
    with translation.override("zh-hans"):
        AlarmEngine().evaluate_device_health(sensor, NOW, set())
    return Alarm.objects.get(rule=AlarmRule.LOW_BATTERY)


def reader(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def test_the_alarm_is_stored_as_a_code_with_its_archive_language_copy(battery_alarm):
    assert battery_alarm.message_code == alarm_messages.BATTERY
    assert battery_alarm.message_params == {"sensor": "TH-01", "level": 9}
    assert battery_alarm.message == ZH  # the search and fallback copy
    assert battery_alarm.text_in("en") == EN


@pytest.mark.parametrize(("language", "text"), [("en", EN), ("zh-hans", ZH)])
def test_the_room_page_shows_the_readers_language(battery_alarm, keeper, room, language, text):
    html = reader(keeper, language).get(f"/staff/climate/rooms/{room.pk}/").content.decode()
    assert text in html
    assert (ZH if language == "en" else EN) not in html


@pytest.mark.parametrize(("language", "text"), [("en", EN), ("zh-hans", ZH)])
def test_the_dashboard_shows_the_readers_language(battery_alarm, keeper, language, text):
    html = reader(keeper, language).get("/staff/climate/").content.decode()
    assert text in html


@pytest.mark.parametrize(("language", "text"), [("en", EN), ("zh-hans", ZH)])
def test_the_api_answers_in_the_readers_language(battery_alarm, keeper, language, text):
    client = reader(keeper, language)
    body = client.get("/api/v1/climate/alarms/").json()
    assert body[0]["message"] == text
    assert body[0]["message_code"] == alarm_messages.BATTERY
    assert body[0]["message_params"] == {"sensor": "TH-01", "level": 9}
    rooms = client.get("/api/v1/climate/rooms/").json()
    assert [a["message"] for r in rooms for a in r["open_alarms"]] == [text]


@pytest.mark.parametrize(
    ("language", "text", "title"), [("en", EN, "Low battery"), ("zh-hans", ZH, "电量低")]
)
def test_the_alarms_csv_is_in_the_readers_language(
    battery_alarm, keeper, room, language, text, title
):
    response = reader(keeper, language).get(f"/staff/climate/rooms/{room.pk}/alarms.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    assert rows[1][1:3] == [title, text]


def test_the_alarms_csv_keeps_its_door(battery_alarm, front_desk, room):
    response = reader(front_desk, "en").get(f"/staff/climate/rooms/{room.pk}/alarms.csv")
    assert response.status_code in (302, 403, 404)


def test_a_devices_own_text_is_shown_as_sent_in_every_language(sensor, keeper, room):
    services.apply_device_alarm(
        sensor=sensor,
        code="water_leak",
        severity="critical",
        active=True,
        message="二号架漏水",
        now=NOW,
    )
    alarm = Alarm.objects.get(rule=AlarmRule.DEVICE)
    assert alarm.message_code == ""
    for language in ("en", "zh-hans"):
        body = reader(keeper, language).get("/api/v1/climate/alarms/").json()
        assert body[0]["message"] == "二号架漏水"
    assert reader(keeper, "en").get("/api/v1/climate/alarms/").json()[0]["code_label"] == (
        "Water leak"
    )


def test_a_sensor_name_with_markup_is_text_not_markup(sensor, keeper, room):
    services.raise_alarm(
        AlarmRule.LOW_BATTERY,
        "sensor:x",
        message=ref(alarm_messages.BATTERY, sensor="<b>x</b>", level=5),
        room_id=room.pk,
    )
    html = reader(keeper, "en").get(f"/staff/climate/rooms/{room.pk}/").content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;: battery 5 %" in html
    assert "<b>x</b>" not in html


def test_bad_stored_params_show_the_stored_text_never_a_500(sensor, keeper, room):
    alarm, _ = services.raise_alarm(
        AlarmRule.LOW_BATTERY,
        "sensor:TH-01",
        message=ref(alarm_messages.BATTERY, sensor="TH-01", level=9),
        room_id=room.pk,
    )
    Alarm.objects.filter(pk=alarm.pk).update(message_params={"sensor": "TH-01"})  # key lost
    other, _ = services.raise_alarm(
        AlarmRule.OFFLINE, "sensor:TH-02", message=ref("gone.code"), room_id=room.pk
    )
    assert other.message == "gone.code"  # a safe text even for the archive's copy
    client = reader(keeper, "en")
    assert client.get(f"/staff/climate/rooms/{room.pk}/").status_code == 200
    assert client.get("/staff/climate/").status_code == 200
    messages = {a["id"]: a["message"] for a in client.get("/api/v1/climate/alarms/").json()}
    assert messages[alarm.pk] == ZH  # the stored copy
    assert messages[other.pk] == "gone.code"
    response = client.get(f"/staff/climate/rooms/{room.pk}/alarms.csv")
    assert ZH in b"".join(response.streaming_content).decode()


# --- websocket --------------------------------------------------------------------------------


def session_cookie(user) -> bytes:
    from django.conf import settings

    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def listen(user, path: str, accept_language: bytes = b"zh-CN"):
    cookie = await sync_to_async(session_cookie)(user)
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", cookie),
        (b"accept-language", accept_language),
    ]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def raise_battery(sensor) -> None:
    sensor.battery = 9
    sensor.save(update_fields=["battery"])
    with translation.override("zh-hans"):
        AlarmEngine().evaluate_device_health(sensor, NOW, set())


@pytest.mark.django_db(transaction=True)
async def test_a_push_reaches_each_reader_in_their_language(keeper, admin_user, room, sensor):
    """The keeper chose English in their profile; the administrator has no preference and a
    Chinese browser. Both get the same push, each in their own language, on both sockets."""
    keeper.preferred_language = "en"
    await sync_to_async(keeper.save)(update_fields=["preferred_language"])
    await sync_to_async(room.keepers.add)(keeper)
    english = await listen(keeper, "/ws/notifications/")
    english_dashboard = await listen(keeper, "/ws/climate/")
    chinese_dashboard = await listen(admin_user, "/ws/climate/")
    browser_english = await listen(admin_user, "/ws/climate/", accept_language=b"en-US,en")
    try:
        await sync_to_async(raise_battery)(sensor)
        for socket, text, label in (
            (english, EN, "Low battery"),
            (english_dashboard, EN, "Low battery"),
            (chinese_dashboard, ZH, "电量低"),
            (browser_english, EN, "Low battery"),
        ):
            message = await socket.receive_json_from(timeout=5)
            assert message["type"] == "alarm.raised"
            assert message["payload"]["message"] == text
            assert message["payload"]["rule_label"] == label
            assert "_render" not in message["payload"]
    finally:
        for socket in (english, english_dashboard, chinese_dashboard, browser_english):
            await socket.disconnect()
