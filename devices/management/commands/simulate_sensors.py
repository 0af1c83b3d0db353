"""``simulate_sensors --sensors N --interval S``: publish realistic readings for sensors.

``--scenario NAME [--room CODE] [--scenario-minutes M]`` plays a bad case for a room, then the
room returns to normal; ``--trigger`` asks an already running simulator (``make run``'s) to play
it instead, over ``{prefix}/simulator/scenario``. ``--list-scenarios`` lists them.
"""

from __future__ import annotations

import json
import queue
import random
import signal
import threading
import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from devices.choices import SensorKind
from devices.demo import ensure_demo_sensors
from devices.models import Sensor
from devices.mqtt import topics
from devices.mqtt.client import broker_config, make_client
from devices.simulator import (
    DROPOUT_RATE,
    EXCURSIONS_PER_DAY,
    SCENARIO_MINUTES,
    SCENARIOS,
    SIM_PROFILES,
    Message,
    SimulatedSensor,
    Simulation,
    speak,
)
from repository.models import StoreRoom

# The detector that raises a scenario's device alarm: its kind and the id given to a new one.
SCENARIO_DEVICES = {"leak": (SensorKind.LEAK, "LK"), "door_open": (SensorKind.DOOR, "DR")}


def control_topic() -> str:
    """Where ``--trigger`` asks running simulators for a scenario (not a sensor topic: the
    ingest worker does not subscribe to it)."""
    return f"{topics.prefix()}/simulator/scenario"


def scenario_device(name: str, room_code: str) -> str | None:
    """The room's leak detector or door contact for ``name``, registered when missing."""
    if name not in SCENARIO_DEVICES:
        return None
    kind, stem = SCENARIO_DEVICES[name]
    room = StoreRoom.objects.filter(code=room_code).first()
    if room is None:
        return None
    existing = (
        Sensor.objects.filter(room=room, kind=kind, enabled=True)
        .order_by("sensor_id")
        .values_list("sensor_id", flat=True)
        .first()
    )
    if existing:
        return existing
    sensor, _ = Sensor.objects.get_or_create(
        sensor_id=f"{stem}-{room.code}",
        defaults={"room": room, "kind": kind, "interval_seconds": 86400},
    )
    return sensor.sensor_id


class Command(BaseCommand):
    help = (
        "Publish realistic readings (a slow daily cycle near the middle of each room's band, rare "
        "short excursions, rare dropouts) for registered sensors, and play bad-case scenarios; "
        "creates demo sensors for the rooms when none are registered."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sensors", type=int, default=12, help="how many sensors (N)")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
        parser.add_argument(
            "--excursions-per-day",
            type=float,
            default=EXCURSIONS_PER_DAY,
            help="average excursions per room per day",
        )
        parser.add_argument(
            "--excursion-rate",
            type=float,
            default=None,
            help="chance per reading round that a room starts an excursion "
            "(overrides --excursions-per-day)",
        )
        parser.add_argument(
            "--max-excursions", type=int, default=1, help="rooms in an excursion at once"
        )
        parser.add_argument("--dropout-rate", type=float, default=DROPOUT_RATE)
        parser.add_argument("--malformed-rate", type=float, default=0.0)
        parser.add_argument("--count", type=int, default=0, help="stop after this many rounds")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="play a bad case")
        parser.add_argument("--room", help="the scenario's room code (default: the first room)")
        parser.add_argument("--scenario-minutes", type=float, default=SCENARIO_MINUTES)
        parser.add_argument(
            "--trigger",
            action="store_true",
            help="ask the running simulator (make run) to play --scenario, then exit",
        )
        parser.add_argument("--list-scenarios", action="store_true")
        parser.add_argument(
            "--profile",
            choices=SIM_PROFILES,
            default="lantai",
            help="speak as a device of this kind (a sensor source's default topics)",
        )

    def handle(self, *args, **options):
        if options["list_scenarios"]:
            for info in SCENARIOS.values():
                self.stdout.write(f"{info.name:<14} {info.zh}\n{'':<14} {info.en}")
            return
        if options["sensors"] < 1 or options["interval"] <= 0:
            raise CommandError("--sensors must be ≥ 1 and --interval > 0")
        if options["scenario_minutes"] <= 0:
            raise CommandError("--scenario-minutes must be > 0")
        if options["trigger"]:
            self.trigger(options)
            return
        rng = random.Random(options["seed"])
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
        simulation = Simulation(
            [
                SimulatedSensor(
                    s.sensor_id,
                    template=s.room.template if s.room else "paper",
                    kind=s.kind,
                    rng=random.Random(rng.random()),
                    room=s.room.code if s.room else None,
                )
                for s in sensors
            ],
            rng=random.Random(rng.random()),
            excursions_per_day=options["excursions_per_day"],
            excursion_rate=options["excursion_rate"],
            max_excursions=options["max_excursions"],
            dropout_rate=options["dropout_rate"],
            malformed_rate=options["malformed_rate"],
        )
        if options["scenario"]:  # fail before connecting when the room is wrong
            self.start_scenario(
                simulation,
                {
                    "scenario": options["scenario"],
                    "room": options["room"],
                    "minutes": options["scenario_minutes"],
                },
                now=time.time(),
                strict=True,
            )
        requests: queue.Queue[bytes] = queue.Queue()
        config = broker_config()
        client = make_client(f"lantai-sim-{uuid.uuid4().hex[:8]}", config=config)
        connected = threading.Event()

        def on_connect(c, userdata, flags, reason, properties=None):
            if not reason.is_failure:
                c.subscribe(control_topic(), qos=1)
                connected.set()

        client.on_connect = on_connect
        client.on_disconnect = lambda *a: connected.clear()
        client.on_message = lambda c, u, message: requests.put(message.payload)
        # The broker may still be starting (make run): connect in the background, with backoff.
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()
        while not connected.wait(1.0):
            self.stdout.write(f"simulate_sensors: waiting for {config.host}:{config.port}")
            self.stdout.flush()
        profile = options["profile"]
        for sim in simulation.sensors:
            hello = Message(sim.sensor_id, topics.STATUS, "online", retain=True)
            for topic, payload, retain in speak(profile, hello, topic_prefix=topics.prefix()):
                client.publish(topic, payload, 1, retain=retain)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        self.stdout.write(
            f"simulate_sensors: {len(simulation.sensors)} sensors in {len(simulation.rooms)} "
            f"rooms every {options['interval']} s to {config.host}:{config.port}"
        )
        self.stdout.flush()
        rounds = 0
        interval = options["interval"]
        playing = simulation.scenario
        while not stop.is_set():
            started = time.time()
            while not requests.empty():
                self.control(simulation, requests.get_nowait(), now=started)
            for message in simulation.tick(started):
                for topic, payload, retain in speak(profile, message, topic_prefix=topics.prefix()):
                    client.publish(topic, payload, qos=1, retain=retain)
            if simulation.scenario is not playing:
                if playing is not None:
                    self.stdout.write(f"simulate_sensors: {playing.room} back to normal")
                    self.stdout.flush()
                playing = simulation.scenario
            rounds += 1
            if options["count"] and rounds >= options["count"]:
                break
            stop.wait(max(0.0, interval - (time.time() - started)))
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
        self.stdout.write(f"simulate_sensors: stopped after {rounds} rounds")

    def start_scenario(
        self, simulation: Simulation, request: dict, *, now: float, strict: bool
    ) -> None:
        name, room = request.get("scenario"), request.get("room")
        if room is None and simulation.rooms:
            coded = StoreRoom.objects.filter(code__in=simulation.rooms).order_by("code")
            room = coded.values_list("code", flat=True).first() or sorted(simulation.rooms)[0]
        try:
            minutes = float(request.get("minutes") or SCENARIO_MINUTES)
            run = simulation.start_scenario(
                name,
                start=now,
                room=room,
                minutes=minutes,
                device_id=scenario_device(name, room) if name in SCENARIOS else None,
            )
        except (TypeError, ValueError) as exc:
            if strict:
                raise CommandError(str(exc)) from None
            self.stderr.write(f"simulate_sensors: scenario refused: {exc}")
            return
        self.stdout.write(
            f"simulate_sensors: scenario {run.name} in {run.room} for {minutes:g} min "
            f"({SCENARIOS[run.name].zh})"
        )
        self.stdout.flush()

    def control(self, simulation: Simulation, raw: bytes, *, now: float) -> None:
        """A scenario request from ``--trigger``; ignored when its room is not simulated here."""
        try:
            request = json.loads(raw)
        except ValueError:
            self.stderr.write("simulate_sensors: ignored a malformed scenario request")
            return
        if not isinstance(request, dict):
            return
        if request.get("room") is not None and request["room"] not in simulation.rooms:
            return
        self.start_scenario(simulation, request, now=now, strict=False)

    def trigger(self, options) -> None:
        if not options["scenario"]:
            raise CommandError("--trigger needs --scenario")
        config = broker_config()
        client = make_client(f"lantai-sim-trigger-{uuid.uuid4().hex[:8]}", config=config)
        try:
            client.connect(config.host, config.port, keepalive=30)
        except OSError as exc:
            raise CommandError(f"cannot reach {config.host}:{config.port}: {exc}") from None
        client.loop_start()
        request = {
            "scenario": options["scenario"],
            "room": options["room"],
            "minutes": options["scenario_minutes"],
        }
        info = client.publish(control_topic(), json.dumps(request).encode(), qos=1)
        info.wait_for_publish(timeout=10)
        client.disconnect()
        client.loop_stop()
        self.stdout.write(
            f"simulate_sensors: asked running simulators for {options['scenario']} "
            f"in {options['room'] or 'the first room'}"
        )
