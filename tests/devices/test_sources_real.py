"""Sensor sources end to end: documented payloads published by ``mosquitto_pub`` (a third-party
client) through real Mosquitto into a running ingest worker and PostgreSQL: stored readings,
online/offline status, device alarms, dead letters with the source, the failed path and the raw
payload; a source saved while the worker runs reaches it without a restart."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import uuid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from devices import services
from devices.choices import DeadLetterReason, SensorStatus
from devices.ingest import IngestWorker
from devices.models import DeadLetter, DiscoveredSensor, Sensor, SourceSample
from repository.models import StoreRoom
from storage_env.models import Alarm, Reading
from tests.devices import source_fixtures as fx
from tests.devices.test_ingest_real import wait_for
from tests.gates import missing, require_mqtt, require_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("mqtt")]


@pytest.fixture
def broker():
    require_postgresql()
    url = require_mqtt()
    if shutil.which("mosquitto_pub") is None:
        missing("mosquitto_pub not installed (apt-get install mosquitto-clients)")
    return urlsplit(url)


def publish(broker, topic: str, payload: bytes) -> None:
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            broker.hostname,
            "-p",
            str(broker.port or 1883),
            "-q",
            "1",
            "-t",
            topic,
            "-s",
        ],
        input=payload,
        check=True,
        timeout=10,
    )


@pytest.fixture
def worker(broker):
    tag = uuid.uuid4().hex[:8]
    running = IngestWorker(client_id=f"ingest-src-{tag}", topic_prefix=f"lantai_src_{tag}")
    running.start()
    assert wait_for(lambda: running.connected and running.subscribed.is_set(), 10)
    yield running
    running.stop()


def save(fields, admin):
    return services.save_sensor_source(None, fields, acting_user=admin)


def applied(worker, source) -> bool:
    return worker.source_set.version is not None and any(
        spec.name == source.name for spec in worker.source_set.specs
    )


def test_each_profile_through_mosquitto(broker, worker, admin_user):
    tag = uuid.uuid4().hex[:6]
    room = StoreRoom.objects.create(code=f"S{tag}", name="测试库房")
    z2m_base, tas_base, shelly_base = f"z2m{tag}", f"tele{tag}", f"shellies{tag}"
    gen2_id = f"shellyplusht-{tag}"
    for sensor_id in ("th-z", "leak-z", "th16", "shellyht-1", gen2_id, "dtu-40001"):
        Sensor.objects.create(sensor_id=sensor_id, room=room)
    sources_ = [
        save(
            {
                "name": f"Zigbee {tag}",
                "enabled": True,
                "profile": "zigbee2mqtt",
                "topic_filters": f"{z2m_base}/#",
                "sensor_id_level": 1,
            },
            admin_user,
        ),
        save(
            {
                "name": f"Tasmota {tag}",
                "enabled": True,
                "profile": "tasmota",
                "topic_filters": f"{tas_base}/+/+",
                "sensor_id_level": 1,
            },
            admin_user,
        ),
        save(
            {
                "name": f"Shelly {tag}",
                "enabled": True,
                "profile": "shelly_gen1",
                "topic_filters": f"{shelly_base}/+/sensor/+\n{shelly_base}/+/online",
                "sensor_id_level": 1,
            },
            admin_user,
        ),
        save(
            {
                "name": f"Shelly2 {tag}",
                "enabled": True,
                "profile": "shelly_gen2",
                # each device's MQTT topic prefix set to shelly2<tag>/<its id>
                "topic_filters": f"shelly2{tag}/+/events/rpc\nshelly2{tag}/+/online",
                "sensor_id_level": 1,
            },
            admin_user,
        ),
        save(
            {
                "name": f"DTU {tag}",
                "enabled": True,
                "profile": "generic",
                "topic_filters": f"dtu{tag}/+/data",
                "sensor_id_from": "payload",
                "sensor_id_path": "dev",
                "sensor_id_prefix": "dtu-",
                "mapping": fx.DTU_MAPPING,
            },
            admin_user,
        ),
    ]
    # saved while the worker runs: it reloads and subscribes within a second or so
    assert wait_for(lambda: all(applied(worker, s) for s in sources_), 15)
    assert wait_for(worker.sources_applied.is_set, 10)

    now = timezone.now()
    z2m = fx.z2m("th-z", base=z2m_base)
    leak = fx.z2m("leak-z", base=z2m_base)
    tasmota = {
        key: (topic.replace("tele/", f"{tas_base}/", 1), raw)
        for key, (topic, raw) in fx.tasmota(
            "th16", time=(now - dt.timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai"))
        ).items()
    }
    shelly = {
        key: (topic.replace("shellies/", f"{shelly_base}/", 1), raw)
        for key, (topic, raw) in fx.shelly_gen1("shellyht-1").items()
    }
    gen2 = {
        key: (f"shelly2{tag}/{topic}", raw)
        for key, (topic, raw) in fx.shelly_gen2(
            gen2_id, ts=(now - dt.timedelta(minutes=3)).timestamp()
        ).items()
    }
    dtu = {
        key: (topic.replace("dtu/", f"dtu{tag}/", 1), raw)
        for key, (topic, raw) in fx.dtu(
            "gw1", "40001", ts=int((now - dt.timedelta(minutes=4)).timestamp())
        ).items()
    }
    good = [
        z2m["telemetry"],
        z2m["availability"],
        z2m["bridge"],
        leak["leak"],
        tasmota["telemetry"],
        tasmota["lwt_offline"],
        tasmota["state"],
        shelly["temperature"],
        shelly["humidity"],
        shelly["online"],
        shelly["flood"],
        gen2["full"],
        gen2["wifi_only"],
        gen2["offline"],
        dtu["telemetry"],
        dtu["leak"],
    ]
    bad = [
        z2m["bad_number"],
        z2m["bad_json"],
        tasmota["bad_unit"],
        shelly["bad_online"],
        gen2["bad_ts"],
        dtu["no_register"],
        dtu["string_value"],
    ]
    for topic, raw in good + bad:
        publish(broker, topic, raw)

    def sensor(sensor_id):
        return Sensor.objects.get(sensor_id=sensor_id)

    # readings: z2m 1, tasmota 1, shelly 2 (one per value), gen2 1, dtu 2 (telemetry + leak's T)
    assert wait_for(lambda: Reading.objects.filter(room=room).count() == 7, 30)
    z = Reading.objects.get(sensor=sensor("th-z"))
    assert (z.temperature, z.humidity, z.battery, z.ts_received) == (27.34, 44.72, 86, True)
    t = Reading.objects.get(sensor=sensor("th16"))
    assert (t.temperature, t.humidity, t.ts_received) == (24.6, 58.2, False)
    assert abs((t.ts - (now - dt.timedelta(minutes=2))).total_seconds()) < 1.5  # local time
    assert set(
        Reading.objects.filter(sensor=sensor("shellyht-1")).values_list("temperature", "humidity")
    ) == {(21.5, None), (None, 45.0)}
    g = Reading.objects.get(sensor=sensor(gen2_id))
    assert (g.temperature, g.humidity, g.battery, g.ts_received) == (19.8, 42.2, 84, False)
    d = Reading.objects.filter(sensor=sensor("dtu-40001")).order_by("ts").first()
    assert (d.temperature, d.humidity) == (21.5, 45.5)

    # status
    assert wait_for(lambda: sensor("th-z").status == SensorStatus.ONLINE, 10)
    assert wait_for(lambda: sensor("th16").status == SensorStatus.OFFLINE, 10)
    assert wait_for(lambda: sensor(gen2_id).status == SensorStatus.OFFLINE, 10)
    assert sensor("shellyht-1").status == SensorStatus.ONLINE

    # device alarms
    assert wait_for(
        lambda: (
            set(Alarm.objects.filter(room=room).values_list("sensor__sensor_id", "code"))
            == {("leak-z", "water_leak"), ("shellyht-1", "water_leak"), ("dtu-40001", "water_leak")}
        ),
        15,
    )

    # dead letters: the source, the failed path, the raw payload
    assert wait_for(lambda: DeadLetter.objects.filter(source__endswith=tag).count() == len(bad))
    letters = {
        (letter.source, letter.reason): letter
        for letter in DeadLetter.objects.filter(source__endswith=tag)
    }
    number = letters[(f"Zigbee {tag}", DeadLetterReason.BAD_NUMBER)]
    assert number.detail.startswith("temperature") and bytes(number.payload) == z2m["bad_number"][1]
    assert letters[(f"Tasmota {tag}", DeadLetterReason.BAD_NUMBER)].detail.startswith("TempUnit")
    assert (f"Shelly {tag}", DeadLetterReason.BAD_STATUS) in letters
    assert (f"Shelly2 {tag}", DeadLetterReason.BAD_TIMESTAMP) in letters
    assert letters[(f"DTU {tag}", DeadLetterReason.MISSING_FIELD)].detail.startswith("dev")
    assert letters[(f"DTU {tag}", DeadLetterReason.BAD_NUMBER)].detail.startswith("T:")
    assert (f"Zigbee {tag}", DeadLetterReason.BAD_JSON) in letters
    # the source pages' samples
    assert wait_for(lambda: SourceSample.objects.filter(source=sources_[0]).exists(), 10)


def test_disabled_source_keeps_samples_and_discovery_of_unknown_ids(broker, worker, admin_user):
    tag = uuid.uuid4().hex[:6]
    source = save(
        {
            "name": f"Try {tag}",
            "enabled": False,
            "profile": "zigbee2mqtt",
            "topic_filters": f"try{tag}/#",
            "sensor_id_level": 1,
        },
        admin_user,
    )
    assert wait_for(lambda: applied(worker, source) and worker.sources_applied.is_set(), 15)
    topic, raw = fx.z2m("unknown-1", base=f"try{tag}")["telemetry"]
    publish(broker, topic, raw)
    assert wait_for(lambda: SourceSample.objects.filter(source=source, topic=topic).exists(), 15)
    assert not DeadLetter.objects.filter(source=source.name).exists()
    # enabled while running: the same message now reaches the writer: an unknown id
    services.save_sensor_source(source, {"enabled": True}, acting_user=admin_user)
    assert wait_for(
        lambda: any(spec.enabled and spec.name == source.name for spec in worker.source_set.specs),
        15,
    )
    publish(broker, topic, raw)
    assert wait_for(
        lambda: DeadLetter.objects.filter(
            source=source.name, reason=DeadLetterReason.UNKNOWN_SENSOR
        ).exists(),
        15,
    )
    assert DiscoveredSensor.objects.filter(sensor_id="unknown-1").exists()
    # deleted while running: the worker unsubscribes; the next message is nobody's
    services.delete_sensor_source(source, acting_user=admin_user)
    assert wait_for(lambda: not applied(worker, source), 15)
    assert f"try{tag}/#" not in worker.source_filters
    time.sleep(0.2)  # the UNSUBSCRIBE on its way (a late message would only add a dead letter)
    before = DeadLetter.objects.count()
    publish(broker, topic, raw)
    time.sleep(1.0)
    assert DeadLetter.objects.count() == before
