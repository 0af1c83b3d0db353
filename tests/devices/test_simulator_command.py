"""``simulate_sensors`` scenarios: listing, refusals, and the real broker (Mosquitto)."""

import io
import json
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from devices.demo import ensure_demo_sensors
from devices.models import Sensor
from devices.mqtt.client import BrokerConfig, make_client
from devices.simulator import SCENARIOS
from tests.gates import require_mqtt

DEADLINE = 20.0  # seconds: generous, the condition usually holds well before


def test_list_scenarios_prints_each_in_chinese_and_english():
    out = io.StringIO()
    call_command("simulate_sensors", "--list-scenarios", stdout=out)
    text = out.getvalue()
    for info in SCENARIOS.values():
        assert info.name in text and info.zh in text and info.en in text


@pytest.mark.django_db
def test_a_scenario_for_a_room_without_simulated_sensors_is_refused():
    ensure_demo_sensors(5, interval=5)
    with pytest.raises(CommandError, match="no simulated sensor in room"):
        call_command(
            "simulate_sensors", "--scenario=leak", "--room=NOPE", "--count=1", stdout=io.StringIO()
        )


def test_trigger_needs_a_scenario():
    with pytest.raises(CommandError, match="--trigger needs --scenario"):
        call_command("simulate_sensors", "--trigger", stdout=io.StringIO())


class Subscriber:
    """Collects (topic, payload, retain) under ``prefix`` from the real broker."""

    def __init__(self, url: str, prefix: str) -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.ready = threading.Event()
        config = BrokerConfig.from_url(url)
        self.client = make_client(f"sub-{prefix}", config=config)
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, m.payload, m.retain))
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.connect(config.host, config.port)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()
        assert self.ready.wait(DEADLINE)

    def wait_for(self, condition) -> bool:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if condition(list(self.got)):
                return True
            time.sleep(0.05)
        return condition(list(self.got))

    def close(self) -> None:
        for topic in {t for t, _, _ in self.got if t.endswith("/status")}:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(DEADLINE)
        self.client.disconnect()
        self.client.loop_stop()


def alarms(got, topic):
    return [json.loads(payload) for t, payload, _ in got if t == topic]


@pytest.mark.django_db
def test_the_leak_scenario_publishes_the_alarm_then_clears_it_on_the_broker():
    url = require_mqtt()
    prefix = f"h5_sim_{uuid.uuid4().hex[:8]}"
    ensure_demo_sensors(5, interval=5)  # rooms K01…; the leak detector LK-01 is in K01
    leak = Sensor.objects.get(sensor_id="LK-01")
    subscriber = Subscriber(url, prefix)
    topic = f"{prefix}/sensors/{leak.sensor_id}/alarm"
    out = io.StringIO()
    try:
        with override_settings(MQTT_TOPIC_PREFIX=prefix):
            call_command(
                "simulate_sensors",
                "--sensors=5",
                "--interval=0.05",
                "--count=20",
                "--scenario=leak",
                "--scenario-minutes=0.005",  # 0.3 s: the alarm is cleared within the run
                "--seed=1",
                stdout=out,
            )
        assert subscriber.wait_for(lambda got: len(alarms(got, topic)) >= 2)
    finally:
        subscriber.close()
    raised, cleared = alarms(subscriber.got, topic)
    assert raised["code"] == cleared["code"] == "water_leak"
    assert raised["severity"] == "critical" and raised["message"]
    assert (raised["active"], cleared["active"]) == (True, False)
    assert set(raised) == {"ts", "code", "severity", "active", "message"}
    assert "scenario leak in K01" in out.getvalue() and "K01 back to normal" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_trigger_asks_the_running_simulator_to_play_a_scenario():
    url = require_mqtt()
    prefix = f"h5_sim_{uuid.uuid4().hex[:8]}"
    ensure_demo_sensors(5, interval=5)
    subscriber = Subscriber(url, prefix)
    status = f"{prefix}/sensors/TH-K02-01/status"
    done = threading.Event()

    def trigger_when_running() -> None:
        # the running simulator subscribes before it publishes its sensors' status
        if subscriber.wait_for(lambda got: any(t == status for t, _, _ in got)):
            with override_settings(MQTT_TOPIC_PREFIX=prefix):
                call_command(
                    "simulate_sensors",
                    "--trigger",
                    "--scenario=sensor_dying",
                    "--room=K02",
                    "--scenario-minutes=0.01",
                    stdout=io.StringIO(),
                )
        done.set()

    thread = threading.Thread(target=trigger_when_running, daemon=True)
    thread.start()
    out = io.StringIO()
    try:
        with override_settings(MQTT_TOPIC_PREFIX=prefix):
            call_command(
                "simulate_sensors",
                "--sensors=5",
                "--interval=0.05",
                "--count=200",  # 10 s at most; the scenario needs about 1 s of it
                "--dropout-rate=0",
                stdout=out,
            )
        assert done.wait(DEADLINE)
        assert subscriber.wait_for(
            lambda got: [p for t, p, _ in got if t == status][-2:] == [b"offline", b"online"]
        )
        # published retained: a newcomer is told the sensor's latest status at once
        newcomer = Subscriber(url, f"{prefix}/sensors/TH-K02-01")
        try:
            assert newcomer.wait_for(lambda got: (status, b"online", True) in got)
        finally:
            newcomer.close()
    finally:
        subscriber.close()
    assert "scenario sensor_dying in K02" in out.getvalue()
