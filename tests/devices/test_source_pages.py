"""The sensor source pages: administrators only; try a mapping on the last messages before
saving; a mapping that cannot work is refused with its reasons."""

import json

import pytest
from django.utils import timezone

from devices.models import SensorSource, SourceSample
from tests.devices import source_fixtures as fx

PERSONAS = ["public", "researcher", "front_desk", "keeper", "archivist_a", "approver_secret"]
PERSONAS += ["admin", "outsider"]
pytestmark = pytest.mark.django_db

FORM = {
    "name": "Tasmota K01",
    "profile": "tasmota",
    "topic_filters": "tele/+/+",
    "sensor_id_from": "topic",
    "sensor_id_level": "1",
    "sensor_id_prefix": "",
    "sensor_id_path": "",
    "mapping": "{}",
}


@pytest.fixture
def source(db):
    source = SensorSource.objects.create(
        name="Tasmota K01", profile="tasmota", topic_filters="tele/+/+", sensor_id_level=1
    )
    now = timezone.now()
    for key in ("telemetry", "lwt_online", "bad_unit"):
        topic, raw = fx.tasmota("th16", time=timezone.localtime(now))[key]
        SourceSample.objects.create(source=source, received_at=now, topic=topic, payload=raw)
    return source


@pytest.mark.parametrize("name", PERSONAS)
def test_source_pages_are_for_administrators(name, personas, client_for, source):
    client = client_for(personas[name])
    pages = [
        client.get("/staff/devices/sources/"),
        client.get(f"/staff/devices/sources/{source.pk}/"),
        client.post("/staff/devices/sources/new/", {**FORM, "name": "x", "action": "save"}),
    ]
    if name == "public":
        assert all(page.status_code == 302 for page in pages)
    elif name == "admin":
        assert [page.status_code for page in pages[:2]] == [200, 200]
    else:
        assert all(page.status_code == 404 for page in pages)
    if name != "admin":
        assert SensorSource.objects.count() == 1


def test_page_shows_what_the_mapping_makes_of_the_last_messages(admin_user, client_for, source):
    page = client_for(admin_user).get(f"/staff/devices/sources/{source.pk}/")
    text = page.content.decode()
    assert "24.6" in text and "58.2" in text  # the reading
    assert "online" in text
    assert "TempUnit" in text  # why the bad one is refused


def test_try_does_not_save_and_save_is_refused_when_it_cannot_work(admin_user, client_for, source):
    client = client_for(admin_user)
    mapping = {"temperature": {"path": "*.Temperature", "scale": 10}}
    tried = client.post(
        f"/staff/devices/sources/{source.pk}/",
        {**FORM, "mapping": json.dumps(mapping), "action": "try"},
    )
    assert tried.status_code == 200 and "246.0" not in tried.content.decode()  # out of range
    assert "outside" in tried.content.decode()
    source.refresh_from_db()
    assert source.mapping == {}
    refused = client.post(
        f"/staff/devices/sources/{source.pk}/",
        {**FORM, "mapping": json.dumps({"time": {"timezone": "Mars/Olympus"}}), "action": "save"},
    )
    assert refused.status_code == 200 and "Mars/Olympus" in refused.content.decode()
    saved = client.post(
        f"/staff/devices/sources/{source.pk}/",
        {**FORM, "enabled": "on", "action": "save"},
    )
    assert saved.status_code == 302
    source.refresh_from_db()
    assert source.enabled
    deleted = client.post(f"/staff/devices/sources/{source.pk}/delete/")
    assert deleted.status_code == 302 and not SensorSource.objects.exists()
