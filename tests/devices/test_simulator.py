import io
import random
import time
import uuid

import pytest
from django.core.management import call_command
from django.test import override_settings

from devices.demo import ensure_demo_sensors
from devices.models import Sensor
from devices.mqtt import payloads
from devices.mqtt.client import BrokerConfig, make_client
from devices.simulator import SimulatedSensor, encode
from tests.gates import require_mqtt


def test_simulated_readings_pass_validation():
    import datetime as dt

    sim = SimulatedSensor("TH-1", rng=random.Random(1))
    now = time.time()
    for i in range(2000):
        raw = encode(sim.step(now - 2000 + i, excursion_rate=0.01))
        readings, errors = payloads.parse_telemetry(
            raw, sensor_id="TH-1", now=dt.datetime.fromtimestamp(now, tz=dt.UTC)
        )
        assert readings and not errors


@pytest.mark.django_db
def test_demo_sensors_are_idempotent():
    first = ensure_demo_sensors(12, interval=5)
    assert first == Sensor.objects.count() >= 12
    assert ensure_demo_sensors(12, interval=5) == 0


@pytest.mark.django_db
def test_simulate_sensors_publishes_for_registered_sensors():
    url = require_mqtt()
    prefix = f"lantai_env_sim_{uuid.uuid4().hex[:8]}"
    got = []
    config = BrokerConfig.from_url(url)
    client = make_client(f"sub-{prefix}", config=config)
    client.on_message = lambda c, u, m: got.append(m.topic)
    client.connect(config.host, config.port)
    client.subscribe(f"{prefix}/sensors/#", qos=1)
    client.loop_start()
    try:
        time.sleep(0.3)
        with override_settings(MQTT_TOPIC_PREFIX=prefix):
            call_command(
                "simulate_sensors",
                "--sensors=5",
                "--interval=0.05",
                "--count=2",
                "--dropout-rate=0",
                stdout=io.StringIO(),
            )
        deadline = time.monotonic() + 5
        while len([t for t in got if t.endswith("telemetry")]) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    assert len([t for t in got if t.endswith("telemetry")]) == 10
    assert Sensor.objects.count() >= 5
