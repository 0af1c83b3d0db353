"""``simulate_sensors --sensors N --interval S``: publish realistic readings for sensors."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from devices.demo import ensure_demo_sensors
from devices.models import Sensor
from devices.mqtt import topics
from devices.mqtt.client import broker_config, make_client
from devices.simulator import MALFORMED, SimulatedSensor, encode


class Command(BaseCommand):
    help = (
        "Publish realistic readings (diurnal drift, humidity rise, excursions, dropouts) for "
        "registered sensors; creates demo sensors for the rooms when none are registered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sensors", type=int, default=12, help="how many sensors (N)")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
        parser.add_argument("--excursion-rate", type=float, default=0.003)
        parser.add_argument("--dropout-rate", type=float, default=0.02)
        parser.add_argument("--malformed-rate", type=float, default=0.0)
        parser.add_argument("--count", type=int, default=0, help="stop after this many rounds")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options):
        if options["sensors"] < 1 or options["interval"] <= 0:
            raise CommandError("--sensors must be ≥ 1 and --interval > 0")
        rng = random.Random(options["seed"])  # noqa: S311 - simulation, not security
        if not Sensor.objects.exists():
            created = ensure_demo_sensors(options["sensors"], interval=int(options["interval"]))
            self.stdout.write(f"simulate_sensors: registered {created} demo sensors")
        sensors = list(
            Sensor.objects.filter(enabled=True, kind__in=["climate", "surface"])
            .select_related("room")
            .order_by("sensor_id")[: options["sensors"]]
        )
        if not sensors:
            raise CommandError("no enabled climate sensors are registered")
        sims = [
            SimulatedSensor(
                s.sensor_id,
                template=s.room.template if s.room else "paper",
                kind=s.kind,
                rng=random.Random(rng.random()),  # noqa: S311
            )
            for s in sensors
        ]
        config = broker_config()
        client = make_client(f"lantai-sim-{uuid.uuid4().hex[:8]}", config=config)
        connected = threading.Event()
        client.on_connect = lambda c, u, f, reason, p=None: (
            connected.set() if not reason.is_failure else None
        )
        client.on_disconnect = lambda *a: connected.clear()
        # The broker may still be starting (make run): connect in the background, with backoff.
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()
        while not connected.wait(1.0):
            self.stdout.write(f"simulate_sensors: waiting for {config.host}:{config.port}")
            self.stdout.flush()
        for sim in sims:
            client.publish(
                topics.topic_for(sim.sensor_id, topics.STATUS), b"online", 1, retain=True
            )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        self.stdout.write(
            f"simulate_sensors: {len(sims)} sensors every {options['interval']} s "
            f"to {config.host}:{config.port}"
        )
        self.stdout.flush()
        rounds = 0
        interval = options["interval"]
        while not stop.is_set():
            started = time.time()
            for sim in sims:
                topic = topics.topic_for(sim.sensor_id, topics.TELEMETRY)
                if rng.random() < options["dropout_rate"]:
                    continue
                if rng.random() < options["malformed_rate"]:
                    client.publish(topic, rng.choice(MALFORMED), qos=1)
                    continue
                reading = sim.step(time.time(), excursion_rate=options["excursion_rate"])
                client.publish(topic, encode(reading), qos=1)
            rounds += 1
            if options["count"] and rounds >= options["count"]:
                break
            stop.wait(max(0.0, interval - (time.time() - started)))
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
        self.stdout.write(f"simulate_sensors: stopped after {rounds} rounds")
