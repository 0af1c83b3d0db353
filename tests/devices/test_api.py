"""REST API of the sensor registry, discovered sensors and dead letters: every persona through
every door, and bad input."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from devices.choices import DeadLetterReason
from devices.ingest import Writer, parse_message
from devices.models import DeadLetter, DiscoveredSensor, Sensor
from storage_env.models import Reading

PERSONAS = ["public", "researcher", "front_desk", "keeper", "archivist_a", "approver_secret"]
PERSONAS += ["admin", "outsider"]
READERS = {"keeper", "admin"}
pytestmark = pytest.mark.django_db


def denied(name: str, response) -> bool:
    """Anonymous: 401 or 403 (session authentication sends no challenge); signed in: 403."""
    return response.status_code in ((401, 403) if name == "public" else (403,))


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.mark.parametrize("name", PERSONAS)
def test_sensor_registry_is_read_by_keepers_and_administrators(name, personas, client_for, sensor):
    client = client_for(personas[name])
    listing = client.get("/api/v1/sensors/")
    detail = client.get(f"/api/v1/sensors/{sensor.pk}/")
    if name in READERS:
        assert listing.status_code == 200 and detail.status_code == 200
        row = listing.json()["results"][0]
        assert row["sensor_id"] == "TH-01" and row["room_code"] == "K01"
        assert row["temperature_offset"] == -0.5 and row["kind"] == "climate"
        assert detail.json()["id"] == sensor.pk
    else:
        assert denied(name, listing) and denied(name, detail)


@pytest.mark.parametrize("name", PERSONAS)
def test_only_administrators_change_calibration_and_enabled(name, personas, client_for, sensor):
    client = client_for(personas[name])
    url = f"/api/v1/sensors/{sensor.pk}/"
    calibrated = patch(client, url, {"temperature_offset": 0.75, "humidity_offset": -2})
    disabled = post(client, url + "disable/")
    sensor.refresh_from_db()
    if name == "admin":
        assert calibrated.status_code == 200 and calibrated.json()["temperature_offset"] == 0.75
        assert disabled.status_code == 200 and disabled.json()["enabled"] is False
        assert (sensor.temperature_offset, sensor.humidity_offset, sensor.enabled) == (
            0.75,
            -2.0,
            False,
        )
        enabled = post(client, url + "enable/")
        assert enabled.status_code == 200 and enabled.json()["enabled"] is True
        actions = set(AuditLog.objects.values_list("action", flat=True))
        assert {
            "devices.sensor.calibrated",
            "devices.sensor.disabled",
            "devices.sensor.enabled",
        } <= actions
        calibration = AuditLog.objects.get(action="devices.sensor.calibrated")
        assert calibration.before["temperature_offset"] == -0.5
    else:
        assert denied(name, calibrated) and denied(name, disabled)
        assert (sensor.temperature_offset, sensor.humidity_offset, sensor.enabled) == (
            -0.5,
            1.0,
            True,
        )
        assert not AuditLog.objects.filter(action__startswith="devices.sensor").exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"temperature_offset": 10.5},
        {"humidity_offset": -20.1},
        {"temperature_offset": "warm"},
        {"temperature_offset": "NaN"},
        {"humidity_offset": "Infinity"},
        {"temperature_offset": None},
        {"enabled": False},
        {"temperature_offset": 1, "room": 3},
        [1, 2],
    ],
)
def test_calibration_rejects_bad_input(body, admin_user, client_for, sensor):
    response = patch(client_for(admin_user), f"/api/v1/sensors/{sensor.pk}/", body)
    assert response.status_code == 400, response.content
    assert "detail" in response.json()
    sensor.refresh_from_db()
    assert (sensor.temperature_offset, sensor.humidity_offset, sensor.enabled) == (-0.5, 1.0, True)


def test_calibration_body_that_is_not_json_is_refused(admin_user, client_for, sensor):
    response = client_for(admin_user).patch(
        f"/api/v1/sensors/{sensor.pk}/", b'{"temperature_offset": NaN}', "application/json"
    )
    assert response.status_code == 400


def test_missing_sensor_and_other_methods(admin_user, client_for, sensor):
    client = client_for(admin_user)
    assert client.get("/api/v1/sensors/999999/").status_code == 404
    assert patch(client, "/api/v1/sensors/999999/", {"humidity_offset": 1}).status_code == 404
    assert post(client, "/api/v1/sensors/999999/enable/").status_code == 404
    assert client.get("/api/v1/sensors/TH-01/").status_code == 404
    url = f"/api/v1/sensors/{sensor.pk}/"
    assert client.put(url, "{}", content_type="application/json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.get(url + "enable/").status_code == 405
    assert Sensor.objects.filter(pk=sensor.pk).exists()


def test_sensor_filters_and_their_bad_values(keeper, client_for, sensor, room):
    Sensor.objects.create(sensor_id="LK-01", kind="leak", room=room, enabled=False)
    client = client_for(keeper)

    def ids(query):
        response = client.get(f"/api/v1/sensors/?{query}")
        assert response.status_code == 200, response.content
        return [row["sensor_id"] for row in response.json()["results"]]

    assert ids("") == ["LK-01", "TH-01"]
    assert ids("kind=leak") == ["LK-01"]
    assert ids("enabled=true") == ["TH-01"]
    assert ids(f"room={room.pk}&q=TH") == ["TH-01"]
    assert ids("status=online") == []
    for bad in ["kind=teapot", "status=asleep", "enabled=maybe", "room=K01"]:
        response = client.get(f"/api/v1/sensors/?{bad}")
        assert response.status_code == 400, bad
        assert bad.split("=")[0] in response.json()["errors"]


def test_calibration_through_the_api_reaches_a_running_writer(admin_user, client_for, sensor):
    writer = Writer()
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)

    def write(i):
        body = json.dumps({"ts": (start + dt.timedelta(seconds=i)).isoformat(), "temperature": 20})
        writer.write([parse_message("t/sensors/TH-01/telemetry", body.encode(), topic_prefix="t")])

    write(0)
    assert (
        patch(
            client_for(admin_user), f"/api/v1/sensors/{sensor.pk}/", {"temperature_offset": 2}
        ).status_code
        == 200
    )
    write(1)
    assert list(Reading.objects.order_by("ts").values_list("temperature", flat=True)) == [
        19.5,
        22.0,
    ]


@pytest.fixture
def discovered(db):
    return DiscoveredSensor.objects.create(
        sensor_id="NEW-7", message_count=4, last_topic="lantai/sensors/NEW-7/telemetry"
    )


@pytest.mark.parametrize("name", PERSONAS)
def test_discovered_sensors_are_for_administrators(name, personas, client_for, discovered, room):
    client = client_for(personas[name])
    listing = client.get("/api/v1/sensors/discovered/")
    registered = post(
        client,
        f"/api/v1/sensors/discovered/{discovered.pk}/register/",
        {"room": room.pk, "kind": "leak", "interval_seconds": 120},
    )
    if name == "admin":
        assert listing.status_code == 200
        assert listing.json()["results"][0]["sensor_id"] == "NEW-7"
        assert registered.status_code == 201, registered.content
        sensor = Sensor.objects.get(sensor_id="NEW-7")
        assert (sensor.room, sensor.kind, sensor.interval_seconds) == (room, "leak", 120)
        assert registered.json()["id"] == sensor.pk
        assert not DiscoveredSensor.objects.exists()
        assert AuditLog.objects.filter(action="devices.sensor.registered").exists()
    else:
        assert denied(name, listing) and denied(name, registered)
        assert DiscoveredSensor.objects.exists() and not Sensor.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "room"),
        ({"room": 999999}, "room"),
        ({"room": "K01"}, "room"),
        ("room", "kind"),  # replaced by a valid room below
        ("room", "interval_seconds"),
    ],
)
def test_register_rejects_bad_input(body, field, admin_user, client_for, discovered, room):
    if body == "room":
        body = (
            {"room": room.pk, "kind": "teapot"}
            if field == "kind"
            else {"room": room.pk, "interval_seconds": 0}
        )
    response = post(
        client_for(admin_user), f"/api/v1/sensors/discovered/{discovered.pk}/register/", body
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Sensor.objects.exists() and DiscoveredSensor.objects.exists()


def test_register_an_id_registered_meanwhile_or_twice(admin_user, client_for, discovered, room):
    client = client_for(admin_user)
    url = f"/api/v1/sensors/discovered/{discovered.pk}/register/"
    Sensor.objects.create(sensor_id="NEW-7", room=room)  # someone registered it by hand
    response = post(client, url, {"room": room.pk})
    assert response.status_code == 400 and "sensor_id" in response.json()["errors"]
    Sensor.objects.all().delete()
    assert post(client, url, {"room": room.pk}).status_code == 201
    assert post(client, url, {"room": room.pk}).status_code == 404  # no longer discovered
    assert (
        post(client, "/api/v1/sensors/discovered/999999/register/", {"room": room.pk}).status_code
        == 404
    )


@pytest.fixture
def dead_letters(db):
    received = timezone.now()
    return [
        DeadLetter.objects.create(
            received_at=received - dt.timedelta(seconds=i),
            topic="lantai/sensors/TH-01/telemetry",
            sensor_id="TH-01",
            payload=(b'{"humidity": 150}' if i % 2 else b"\xff\xfe" + b"x" * 70000)[:65536],
            payload_size=17 if i % 2 else 70002,
            reason=DeadLetterReason.OUT_OF_RANGE if i % 2 else DeadLetterReason.BAD_ENCODING,
            detail="humidity=150 outside 0…100" if i % 2 else "invalid start byte",
        )
        for i in range(6)
    ]


@pytest.mark.parametrize("name", PERSONAS)
def test_dead_letters_are_for_administrators(name, personas, client_for, dead_letters):
    client = client_for(personas[name])
    listing = client.get("/api/v1/sensors/dead-letters/")
    detail = client.get(f"/api/v1/sensors/dead-letters/{dead_letters[1].pk}/")
    if name == "admin":
        assert listing.status_code == 200 and listing.json()["count"] == 6
        first = listing.json()["results"][0]
        assert first["reason"] == "bad_encoding" and first["payload_size"] == 70002
        assert len(first["payload_preview"]) <= 500 and first["payload_preview"].startswith(
            "\ufffd"
        )
        assert detail.status_code == 200
        assert base64.b64decode(detail.json()["payload_base64"]) == b'{"humidity": 150}'
        assert detail.json()["reason_label"]
    else:
        assert denied(name, listing) and denied(name, detail)


def test_dead_letter_filters_and_query_count(
    admin_user, client_for, dead_letters, django_assert_max_num_queries
):
    client = client_for(admin_user)
    # no query per row (+ 6: the API throttle's counter when the cache is the database)
    with django_assert_max_num_queries(8 + 6):
        response = client.get("/api/v1/sensors/dead-letters/?reason=out_of_range")
    assert response.status_code == 200
    assert {row["reason"] for row in response.json()["results"]} == {"out_of_range"}
    assert response.json()["count"] == 3
    assert client.get("/api/v1/sensors/dead-letters/?sensor_id=TH-02").json()["count"] == 0
    bad = client.get("/api/v1/sensors/dead-letters/?reason=gremlins")
    assert bad.status_code == 400 and "reason" in bad.json()["errors"]
    assert client.get("/api/v1/sensors/dead-letters/999999/").status_code == 404
    assert client.delete(f"/api/v1/sensors/dead-letters/{dead_letters[0].pk}/").status_code == 405
