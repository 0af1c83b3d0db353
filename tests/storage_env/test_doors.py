"""Every persona through every door: pages, CSV, PDF, API and the websocket."""

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from config.asgi import application
from storage_env import services
from storage_env.choices import AlarmRule, AlarmState
from storage_env.models import Alarm, Reading

ALLOWED = {"keeper", "admin"}
PERSONAS = ["public", "researcher", "front_desk", "keeper", "archivist_a", "approver_secret"]
PERSONAS += ["admin", "outsider"]


@pytest.fixture
def alarm(sensor):
    alarm, _ = services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-01",
        message="TH-01: humidity above 60 %RH (66)",
        room_id=sensor.room_id,
        sensor_id=sensor.pk,
        value=66,
    )
    Reading.objects.create(
        sensor=sensor, room=sensor.room, ts=timezone.now(), temperature=20, humidity=66
    )
    return alarm


def page_urls(room, alarm):
    return [
        "/staff/climate/",
        f"/staff/climate/rooms/{room.pk}/",
        f"/staff/climate/rooms/{room.pk}/export.csv?range=day",
        f"/staff/climate/rooms/{room.pk}/report.pdf?month={timezone.localdate():%Y-%m}",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PERSONAS)
def test_pages(name, personas, client_for, room, alarm):
    client = client_for(personas[name])
    for url in page_urls(room, alarm):
        response = client.get(url)
        if name == "public":
            assert response.status_code == 302 and "login" in response["Location"], url
        elif name in ALLOWED:
            assert response.status_code == 200, url
        else:
            assert response.status_code == 404, url


@pytest.mark.django_db
@pytest.mark.parametrize("name", PERSONAS)
def test_api(name, personas, client_for, room, alarm):
    client = client_for(personas[name])
    for url in [
        "/api/v1/climate/rooms/",
        f"/api/v1/climate/rooms/{room.pk}/history/?range=week",
        "/api/v1/climate/alarms/",
    ]:
        response = client.get(url)
        expected = 200 if name in ALLOWED else (403 if name != "public" else (401, 403))
        assert response.status_code in (expected if isinstance(expected, tuple) else (expected,))
    response = client.post(
        f"/api/v1/climate/alarms/{alarm.pk}/acknowledge/", {"note": "处理中"}, "application/json"
    )
    alarm.refresh_from_db()
    if name in ALLOWED:
        assert response.status_code == 200
        assert alarm.state == AlarmState.ACKNOWLEDGED
    else:
        assert response.status_code in (401, 403)
        assert alarm.state == AlarmState.RAISED


@pytest.mark.django_db
def test_dashboard_api_content_and_actions(keeper, client_for, room, alarm):
    client = client_for(keeper)
    rooms = client.get("/api/v1/climate/rooms/").json()
    state = next(r for r in rooms if r["id"] == room.pk)
    assert state["state"] == "warning" and state["humidity"] == 66
    assert state["open_alarms"][0]["id"] == alarm.pk
    assert state["dew_point"] is None or isinstance(state["dew_point"], float)
    assert client.get(f"/api/v1/climate/rooms/{room.pk}/history/?range=decade").status_code == 400
    assert client.get("/api/v1/climate/rooms/999999/history/").status_code == 404
    assert client.post("/api/v1/climate/alarms/999999/clear/", {}).status_code == 404
    assert client.post(f"/api/v1/climate/alarms/{alarm.pk}/close/", {}).status_code == 409
    long_note = {"note": "x" * 501}
    response = client.post(
        f"/api/v1/climate/alarms/{alarm.pk}/acknowledge/", long_note, "application/json"
    )
    assert response.status_code == 400
    assert client.post(f"/api/v1/climate/alarms/{alarm.pk}/clear/", {}).json()["state"] == (
        "cleared"
    )
    assert client.post(f"/api/v1/climate/alarms/{alarm.pk}/close/", {}).json()["state"] == "closed"


@pytest.mark.django_db
def test_page_actions_csv_and_pdf(keeper, client_for, room, alarm):
    client = client_for(keeper)
    page = client.get(f"/staff/climate/rooms/{room.pk}/").content.decode()
    assert "TH-01: humidity above 60 %RH (66)" in page
    response = client.post(f"/staff/climate/alarms/{alarm.pk}/acknowledge/", {"note": "已派人检查"})
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == keeper
    response = client.post(f"/staff/climate/alarms/{alarm.pk}/acknowledge/")
    assert response.status_code == 302  # already acknowledged: a message, nothing changes
    assert client.post(f"/staff/climate/alarms/{alarm.pk}/explode/").status_code == 404
    assert client.get(f"/staff/climate/alarms/{alarm.pk}/clear/").status_code == 405
    csv_body = b"".join(
        client.get(f"/staff/climate/rooms/{room.pk}/export.csv?range=week").streaming_content
    ).decode("utf-8-sig")
    assert csv_body.splitlines()[0].startswith("time,sensor,temperature_c")
    assert "TH-01" in csv_body
    assert client.get(f"/staff/climate/rooms/{room.pk}/export.csv?range=x").status_code == 400
    pdf = client.get(f"/staff/climate/rooms/{room.pk}/report.pdf?month=2026-11")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    bad = client.get(f"/staff/climate/rooms/{room.pk}/report.pdf?month=2026-13")
    assert bad.status_code == 400


@pytest.mark.django_db
def test_staff_menu_entry_only_for_keepers(personas, client_for):
    from accounts.navigation import items_for

    assert any(i["name"] == "storage_env:dashboard" for i in items_for(personas["keeper"]))
    assert not any(i["name"] == "storage_env:dashboard" for i in items_for(personas["front_desk"]))


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def ws_connect(user):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, "/ws/climate/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", PERSONAS)
async def test_websocket(name, personas, room, sensor):
    communicator, connected, code = await ws_connect(personas[name])
    try:
        assert connected == (name in ALLOWED)
        if not connected:
            assert code == 4401
            return
        await sync_to_async(services.raise_alarm)(
            AlarmRule.TEMPERATURE_HIGH,
            "sensor:TH-01",
            message="TH-01: temperature above 24 °C (26)",
            room_id=room.pk,
            sensor_id=sensor.pk,
            now=timezone.now() - dt.timedelta(seconds=1),
        )
        message = await communicator.receive_json_from(timeout=3)
        assert message["type"] == "alarm.raised"
        assert message["payload"]["room_id"] == room.pk
        stored = await sync_to_async(Alarm.objects.get)(pk=message["payload"]["id"])
        assert stored.state == AlarmState.RAISED  # stored before it was pushed
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_room_keepers_get_the_alarm_on_their_own_notice_socket(personas, room, sensor):
    """/ws/notifications/: the keeper named for the room is told; another keeper is not."""
    mine, other = personas["keeper"], personas["admin"]
    await sync_to_async(room.keepers.add)(mine)
    sockets = {}
    for user in (mine, other):
        headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        assert (await communicator.connect())[0]
        sockets[user.username] = communicator
    try:
        await sync_to_async(services.raise_alarm)(
            AlarmRule.HUMIDITY_HIGH,
            "sensor:TH-01",
            message="TH-01: 湿度高于 60 %RH (70)",
            room_id=room.pk,
            sensor_id=sensor.pk,
        )
        message = await sockets[mine.username].receive_json_from(timeout=3)
        assert message["type"] == "alarm.raised" and message["payload"]["room_id"] == room.pk
        assert await sockets[other.username].receive_nothing(timeout=0.5)
    finally:
        for communicator in sockets.values():
            await communicator.disconnect()
