"""Realistic sensor behaviour for the demo and the benchmarks (no Django writes here).

A room keeps its climate: every sensor sits near the middle of its room template's band
(``CLIMATE_RANGES``) with a slow 24 h sine, a slowly wandering humidity and a little measurement
noise, far inside JGJ 25's ±2 °C / ±5 %RH a day. ``Simulation`` drives all the sensors together:
it starts rare, short room excursions (rising and falling smoothly, at most one room at a time
by default), drops the odd reading, and plays named bad cases (``SCENARIOS``) for one room
before returning to normal. It only returns ``Message`` objects; publishing is the caller's.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from devices.mqtt import topics
from repository.choices import CLIMATE_RANGES, ClimateRange, RoomTemplate

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

BATTERY_LIFE_DAYS = 730.0  # a battery lasts two years in the simulation: from 100 % to 40 %
BATTERY_FLOOR = 40.0
SURFACE_COOLER = 3.0  # a wall or floor is this much cooler than the air (°C)
DRIFT_TAU = 6 * HOUR  # the slow humidity wander returns to zero with this time constant
DRIFT_SIGMA = 0.3  # %RH, the wander's stationary standard deviation

EXCURSIONS_PER_DAY = 1.0  # per room, on average
EXCURSION_MINUTES = (10.0, 40.0)
EXCURSION_KINDS = (("humid", 0.45), ("warm", 0.25), ("dry", 0.15), ("cool", 0.15))
DROPOUT_RATE = 0.005

SCENARIO_MINUTES = 60.0
RECOVERY_MINUTES = 15.0


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


def bump(u: float, *, rise: float = 0.35) -> float:
    """0 → 1 → 0 as ``u`` goes over [0, 1]: a smooth rise, a short plateau, a smooth fall."""
    if u <= 0.0 or u >= 1.0:
        return 0.0
    if u < rise:
        return smoothstep(u / rise)
    if u > 1.0 - rise:
        return smoothstep((1.0 - u) / rise)
    return 1.0


def vapour_pressure(temperature: float) -> float:
    """Saturation vapour pressure over water (Magnus, Sonntag 1990), hPa."""
    return 6.112 * math.exp(17.62 * temperature / (243.12 + temperature))


def outside_air(epoch: float) -> tuple[float, float]:
    """A plausible outdoor temperature and humidity for the season (northern hemisphere)."""
    month = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).month
    if 6 <= month <= 9:
        return 32.0, 80.0  # summer: hot and humid
    if month in (12, 1, 2):
        return 2.0, 45.0  # winter: cold and dry
    return 22.0, 75.0


def climate_range(template: str) -> ClimateRange:
    return CLIMATE_RANGES.get(template, CLIMATE_RANGES[RoomTemplate.PAPER])


@dataclass(frozen=True)
class Excursion:
    """A short room-wide departure toward (and a little beyond) an edge of the band.

    A target is an absolute peak value every sensor of the room reaches; a shift is added as is.
    """

    room: str
    kind: str
    start: float
    duration: float
    temp_target: float | None = None
    rh_target: float | None = None
    temp_shift: float = 0.0
    rh_shift: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, epoch: float) -> bool:
        return self.start <= epoch < self.end

    def offsets(self, sensor: SimulatedSensor, epoch: float) -> tuple[float, float]:
        weight = bump((epoch - self.start) / self.duration)
        if weight == 0.0:
            return 0.0, 0.0
        shift_t = (
            self.temp_shift if self.temp_target is None else self.temp_target - sensor.base_temp
        )
        shift_h = self.rh_shift if self.rh_target is None else self.rh_target - sensor.base_rh
        return weight * shift_t, weight * shift_h


def random_excursion(
    rng: random.Random, *, room: str, ranges: ClimateRange, start: float
) -> Excursion:
    kinds, weights = zip(*EXCURSION_KINDS, strict=True)
    kind = rng.choices(kinds, weights)[0]
    duration = rng.uniform(*EXCURSION_MINUTES) * MINUTE
    t_width = ranges.temp_max - ranges.temp_min
    h_width = ranges.rh_max - ranges.rh_min
    if kind == "humid":
        return Excursion(
            room,
            kind,
            start,
            duration,
            rh_target=min(95.0, ranges.rh_max + rng.uniform(1.5, 4.0)),
            temp_shift=rng.uniform(0.0, min(0.3, t_width / 10)),
        )
    if kind == "dry":
        return Excursion(
            room, kind, start, duration, rh_target=max(5.0, ranges.rh_min - rng.uniform(1.5, 3.5))
        )
    if kind == "warm":  # warmer air holds the same water at a lower relative humidity
        return Excursion(
            room,
            kind,
            start,
            duration,
            temp_target=ranges.temp_max + rng.uniform(0.5, 1.5),
            rh_shift=-rng.uniform(0.5, min(3.0, h_width / 5)),
        )
    return Excursion(
        room, kind, start, duration, temp_target=ranges.temp_min - rng.uniform(0.5, 1.2)
    )


@dataclass
class SimulatedSensor:
    """One sensor's own climate; ``step`` is the stand-alone API (the demo history uses it),
    ``reading`` takes the room's excursion or scenario from ``Simulation``."""

    sensor_id: str
    template: str = RoomTemplate.PAPER
    kind: str = "climate"
    rng: random.Random = field(default_factory=random.Random)
    humidity_drift: float = 0.0
    battery: float = 100.0
    seq: int = 0
    room: str | None = None
    excursion: Excursion | None = None  # stand-alone ``step`` only
    battery_replaced_at: float | None = None
    last_epoch: float | None = None

    def __post_init__(self) -> None:
        ranges = self.ranges = climate_range(self.template)
        # The character of a sensor depends on its id only, so the demo history and the live
        # simulator agree (no artificial jump between them).
        stable = random.Random(self.sensor_id)
        t_width = ranges.temp_max - ranges.temp_min
        h_width = ranges.rh_max - ranges.rh_min
        self.temp_mid = (ranges.temp_min + ranges.temp_max) / 2
        self.rh_mid = (ranges.rh_min + ranges.rh_max) / 2
        # Near the middle, small daily sine: a narrow band (film masters: 13–15 °C) is kept by
        # tighter air conditioning, so every size scales with the band's width.
        self.base_temp = self.temp_mid + stable.uniform(-1, 1) * min(0.4, 0.1 * t_width)
        self.base_rh = self.rh_mid + stable.uniform(-1, 1) * min(1.0, 0.08 * h_width)
        self.temp_swing = min(0.5, 0.15 * t_width)
        self.rh_swing = min(1.5, 0.12 * h_width)
        self.temp_noise = min(0.05, 0.02 * t_width)
        self.rh_noise = min(0.2, 0.02 * h_width)
        self.drift_limit = min(0.8, 0.05 * h_width)
        room_phase = random.Random(f"room:{self.room or self.sensor_id}").uniform(0, 2 * math.pi)
        self.phase = room_phase + stable.uniform(-0.3, 0.3)
        self.battery_age = stable.uniform(0.0, 0.9) * BATTERY_LIFE_DAYS
        self.battery = self.battery_at(0.0)

    def battery_at(self, epoch: float) -> float:
        """Drains by 0.08 % a day; a fresh battery after the sensor_dying scenario."""
        drain = (100.0 - BATTERY_FLOOR) / BATTERY_LIFE_DAYS
        if self.battery_replaced_at is not None and epoch >= self.battery_replaced_at:
            return max(BATTERY_FLOOR, 100.0 - drain * (epoch - self.battery_replaced_at) / DAY)
        age = (epoch / DAY + self.battery_age) % BATTERY_LIFE_DAYS
        return 100.0 - drain * age

    def baseline(self, epoch: float) -> tuple[float, float]:
        """Temperature and humidity without noise or excursions."""
        day = 2 * math.pi * (epoch % DAY) / DAY
        temperature = self.base_temp + self.temp_swing * math.sin(day + self.phase)
        humidity = (
            self.base_rh + self.humidity_drift + self.rh_swing * math.sin(day + self.phase + 1)
        )
        return temperature, humidity

    def _wander(self, epoch: float) -> None:
        """The slow humidity wander: mean-reverting, bounded, independent of the step size."""
        if self.last_epoch is not None and epoch > self.last_epoch:
            keep = math.exp(-(epoch - self.last_epoch) / DRIFT_TAU)
            spread = DRIFT_SIGMA * math.sqrt(1 - keep * keep)
            drift = self.humidity_drift * keep + self.rng.gauss(0, spread)
            self.humidity_drift = max(-self.drift_limit, min(self.drift_limit, drift))
        self.last_epoch = epoch

    def reading(
        self,
        epoch: float,
        *,
        temp_offset: float = 0.0,
        rh_offset: float = 0.0,
        noise: float = 1.0,
        battery: float | None = None,
    ) -> dict:
        """One telemetry payload at ``epoch`` with the room's offsets applied."""
        self.seq += 1
        self._wander(epoch)
        temperature, humidity = self.baseline(epoch)
        temperature += temp_offset + self.rng.gauss(0, self.temp_noise * noise)
        humidity += rh_offset + self.rng.gauss(0, self.rh_noise * noise)
        self.battery = self.battery_at(epoch) if battery is None else battery
        if self.kind == "surface":  # a wall or floor: cooler, slower, humidity not measured
            temperature -= SURFACE_COOLER + temp_offset / 2
            return {
                "ts": round(epoch, 3),
                "temperature": round(max(-40.0, min(85.0, temperature)), 2),
                "battery": round(self.battery),
                "seq": self.seq,
            }
        return {
            "ts": round(epoch, 3),
            "temperature": round(max(-40.0, min(85.0, temperature)), 2),
            "humidity": round(min(100.0, max(0.0, humidity)), 2),
            "battery": round(self.battery),
            "seq": self.seq,
        }

    def step(self, epoch: float, *, excursion_rate: float = 0.0) -> dict:
        """One reading at ``epoch`` on its own: a new excursion starts with ``excursion_rate``
        chance per call (no coordination with other sensors; ``Simulation`` does that)."""
        if self.excursion is not None and epoch >= self.excursion.end:
            self.excursion = None
        if self.excursion is None and excursion_rate > 0 and self.rng.random() < excursion_rate:
            self.excursion = random_excursion(
                self.rng, room=self.room or self.sensor_id, ranges=self.ranges, start=epoch
            )
        shift_t, shift_h = self.excursion.offsets(self, epoch) if self.excursion else (0.0, 0.0)
        return self.reading(epoch, temp_offset=shift_t, rh_offset=shift_h)


# --- scenarios --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    zh: str
    en: str


SCENARIOS: dict[str, ScenarioInfo] = {
    info.name: info
    for info in (
        ScenarioInfo(
            "hvac_failure",
            "空调故障：温湿度在约 30 分钟内漂出范围，并保持到场景结束",
            "HVAC failure: temperature and humidity drift out of band over ~30 min and stay "
            "there until the scenario ends",
        ),
        ScenarioInfo(
            "leak",
            "漏水：漏水探测器报 water_leak（严重），湿度上升；场景结束时报警解除",
            "Water leak: the leak detector raises water_leak (critical) and humidity rises; "
            "cleared when the scenario ends",
        ),
        ScenarioInfo(
            "door_open",
            "库门未关：门磁报 door_open，温湿度向室外空气漂移；场景结束时关门",
            "Door left open: door_open alarm and the room drifts toward the outside air; "
            "closed when the scenario ends",
        ),
        ScenarioInfo(
            "sensor_dying",
            "传感器失效：电量快速下降，读数变得杂乱后中断，状态 offline（保留消息）",
            "Dying sensor: the battery falls fast, readings get noisy then stop, status offline "
            "(retained); a fresh battery when the scenario ends",
        ),
    )
}


@dataclass(frozen=True)
class Message:
    """Something to publish on ``{prefix}/sensors/{sensor_id}/{kind}``."""

    sensor_id: str
    kind: str
    data: dict | str
    retain: bool = False
    raw: bytes | None = None  # a malformed payload, sent as is

    @property
    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return self.data.encode() if isinstance(self.data, str) else encode(self.data)


@dataclass
class ScenarioRun:
    """A named bad case for one room from ``start`` for ``duration`` seconds, then a smooth
    ``recovery`` back to normal."""

    name: str
    room: str
    start: float
    duration: float
    device_id: str | None = None  # the leak detector or door contact that raises the alarm
    target_id: str | None = None  # the dying sensor
    emitted: set[str] = field(default_factory=set)

    @property
    def end(self) -> float:
        return self.start + self.duration

    @property
    def recovery(self) -> float:
        return min(RECOVERY_MINUTES * MINUTE, self.duration)

    @property
    def done_at(self) -> float:
        return self.end + self.recovery

    @property
    def fails_at(self) -> float:  # sensor_dying: when the readings stop
        return self.start + 0.7 * self.duration

    def _effect(self, sensor: SimulatedSensor, epoch: float) -> tuple[float, float]:
        ranges, elapsed = sensor.ranges, max(0.0, epoch - self.start)
        t_width = ranges.temp_max - ranges.temp_min
        h_width = ranges.rh_max - ranges.rh_min
        if self.name == "hvac_failure":
            weight = smoothstep(elapsed / min(30 * MINUTE, self.duration / 2))
            temp_target = ranges.temp_max + max(1.5, 0.3 * t_width)
            rh_target = min(95.0, ranges.rh_max + max(8.0, 0.5 * h_width))
            return weight * (temp_target - sensor.base_temp), weight * (rh_target - sensor.base_rh)
        if self.name == "leak":
            weight = 1 - math.exp(-elapsed / min(10 * MINUTE, self.duration / 3))
            rh_target = min(97.0, ranges.rh_max + 12.0)
            return -0.5 * weight, weight * (rh_target - sensor.base_rh)
        if self.name == "door_open":  # mix in outside air (its water, not its relative humidity)
            mix = 0.6 * (1 - math.exp(-elapsed / min(8 * MINUTE, self.duration / 3)))
            out_t, out_rh = outside_air(self.start)
            inside_e = sensor.base_rh / 100 * vapour_pressure(sensor.base_temp)
            outside_e = out_rh / 100 * vapour_pressure(out_t)
            temperature = sensor.base_temp + mix * (out_t - sensor.base_temp)
            humidity = (
                100 * (inside_e + mix * (outside_e - inside_e)) / vapour_pressure(temperature)
            )
            return temperature - sensor.base_temp, min(98.0, humidity) - sensor.base_rh
        return 0.0, 0.0

    def offsets(self, sensor: SimulatedSensor, epoch: float) -> tuple[float, float]:
        if epoch < self.start or epoch >= self.done_at:
            return 0.0, 0.0
        if epoch < self.end:
            return self._effect(sensor, epoch)
        shift_t, shift_h = self._effect(sensor, self.end)
        weight = 1 - smoothstep((epoch - self.end) / self.recovery)
        return weight * shift_t, weight * shift_h

    def noise(self, sensor: SimulatedSensor, epoch: float) -> float:
        if self.name != "sensor_dying" or sensor.sensor_id != self.target_id:
            return 1.0
        if not self.start <= epoch < self.end:
            return 1.0
        return 1.0 + 29.0 * ((epoch - self.start) / (self.fails_at - self.start)) ** 2

    def battery(self, sensor: SimulatedSensor, epoch: float) -> float | None:
        if self.name != "sensor_dying" or sensor.sensor_id != self.target_id:
            return None
        if not self.start <= epoch < self.end:
            return None
        level = sensor.battery_at(self.start)
        return max(0.0, level * (1 - (epoch - self.start) / (self.fails_at - self.start)))

    def silent(self, sensor: SimulatedSensor, epoch: float) -> bool:
        return (
            self.name == "sensor_dying"
            and sensor.sensor_id == self.target_id
            and self.fails_at <= epoch < self.end
        )

    def events(self, epoch: float, sensors: dict[str, SimulatedSensor]) -> list[Message]:
        """Alarms and status changes due by ``epoch``, each once."""
        out: list[Message] = []

        def once(key: str, message: Message) -> None:
            if key not in self.emitted:
                self.emitted.add(key)
                out.append(message)

        ts = round(epoch, 3)
        if self.name in ("leak", "door_open") and self.device_id:
            code, severity, on, off = {
                "leak": (
                    "water_leak",
                    "critical",
                    f"{self.room} 检测到漏水 (water detected)",
                    f"{self.room} 漏水已排除 (leak cleared)",
                ),
                "door_open": (
                    "door_open",
                    "major",
                    f"{self.room} 库门未关 (door open)",
                    f"{self.room} 库门已关闭 (door closed)",
                ),
            }[self.name]
            once("online", Message(self.device_id, topics.STATUS, "online", retain=True))
            alarm = {"ts": ts, "code": code, "severity": severity, "active": True, "message": on}
            once("alarm_on", Message(self.device_id, topics.ALARM, alarm))
            if epoch >= self.end:
                cleared = {**alarm, "active": False, "message": off}
                once("alarm_off", Message(self.device_id, topics.ALARM, cleared))
        if self.name == "sensor_dying" and self.target_id:
            if epoch >= self.fails_at:
                once("offline", Message(self.target_id, topics.STATUS, "offline", retain=True))
            if epoch >= self.end:
                sensor = sensors.get(self.target_id)
                if sensor is not None and "online" not in self.emitted:
                    sensor.battery_replaced_at = self.end
                once("online", Message(self.target_id, topics.STATUS, "online", retain=True))
        return out


# --- the whole site ---------------------------------------------------------------------------


class Simulation:
    """All the simulated sensors, grouped by room; ``tick(epoch)`` gives the messages due.

    ``excursions_per_day`` is per room; ``excursion_rate`` (if given) is instead the chance per
    tick that a room starts one. At most ``max_excursions`` rooms are in an excursion (or a
    scenario) at once.
    """

    def __init__(
        self,
        sensors: Iterable[SimulatedSensor],
        *,
        rng: random.Random | None = None,
        excursions_per_day: float = EXCURSIONS_PER_DAY,
        excursion_rate: float | None = None,
        max_excursions: int = 1,
        dropout_rate: float = DROPOUT_RATE,
        malformed_rate: float = 0.0,
    ) -> None:
        self.sensors = list(sensors)
        self.by_id = {s.sensor_id: s for s in self.sensors}
        self.rooms: dict[str, list[SimulatedSensor]] = {}
        for sensor in self.sensors:
            self.rooms.setdefault(sensor.room or sensor.sensor_id, []).append(sensor)
        self.rng = rng or random.Random()
        self.excursions_per_day = excursions_per_day
        self.excursion_rate = excursion_rate
        self.max_excursions = max_excursions
        self.dropout_rate = dropout_rate
        self.malformed_rate = malformed_rate
        self.active: dict[str, Excursion] = {}
        self.excursions: deque[Excursion] = deque(maxlen=10_000)  # the log, newest last
        self.scenario: ScenarioRun | None = None
        self.scenarios: list[ScenarioRun] = []
        self.last_epoch: float | None = None

    def room_of(self, sensor: SimulatedSensor) -> str:
        return sensor.room or sensor.sensor_id

    def busy_rooms(self, epoch: float) -> set[str]:
        busy = set(self.active)
        if self.scenario is not None and epoch < self.scenario.done_at:
            busy.add(self.scenario.room)
        return busy

    def _start_chance(self, epoch: float) -> float:
        if self.excursion_rate is not None:
            return self.excursion_rate
        if self.last_epoch is None or epoch <= self.last_epoch:
            return 0.0
        return 1 - math.exp(-self.excursions_per_day * (epoch - self.last_epoch) / DAY)

    def _excursions(self, epoch: float) -> None:
        for room, excursion in list(self.active.items()):
            if epoch >= excursion.end:
                del self.active[room]
        chance = self._start_chance(epoch)
        busy = self.busy_rooms(epoch)
        if chance <= 0 or len(busy) >= self.max_excursions:
            return
        for room in self.rng.sample(sorted(self.rooms), len(self.rooms)):
            if room in busy or self.rng.random() >= chance:
                continue
            excursion = random_excursion(
                self.rng, room=room, ranges=self.rooms[room][0].ranges, start=epoch
            )
            self.active[room] = excursion
            self.excursions.append(excursion)
            busy.add(room)
            if len(busy) >= self.max_excursions:
                return

    def start_scenario(
        self,
        name: str,
        *,
        start: float,
        room: str | None = None,
        minutes: float = SCENARIO_MINUTES,
        device_id: str | None = None,
    ) -> ScenarioRun:
        """Play ``name`` for ``room`` (default: the first room) from ``start``."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
        if minutes <= 0:
            raise ValueError("a scenario lasts more than 0 minutes")
        room = room or sorted(self.rooms)[0]
        if room not in self.rooms:
            raise ValueError(f"no simulated sensor in room {room!r}; one of {sorted(self.rooms)}")
        climate = sorted(s.sensor_id for s in self.rooms[room] if s.kind == "climate")
        if name in ("leak", "door_open") and device_id is None:
            device_id = f"{'LK' if name == 'leak' else 'DR'}-{room}"
        target = climate[0] if climate else self.rooms[room][0].sensor_id
        self.active.pop(room, None)  # the scenario replaces the room's own excursion
        self.scenario = ScenarioRun(
            name,
            room,
            start,
            minutes * MINUTE,
            device_id=device_id,
            target_id=target if name == "sensor_dying" else None,
        )
        self.scenarios.append(self.scenario)
        return self.scenario

    def tick(self, epoch: float) -> list[Message]:
        """Everything due at ``epoch``: scenario alarms and status, then one reading a sensor
        (less dropouts, and malformed payloads when asked for)."""
        self._excursions(epoch)
        out: list[Message] = []
        scenario = self.scenario
        if scenario is not None and epoch >= scenario.start:
            out.extend(scenario.events(epoch, self.by_id))
        for sensor in self.sensors:
            room = self.room_of(sensor)
            shift_t = shift_h = 0.0
            noise, battery = 1.0, None
            excursion = self.active.get(room)
            if excursion is not None:
                shift_t, shift_h = excursion.offsets(sensor, epoch)
            if scenario is not None and scenario.room == room:
                if scenario.silent(sensor, epoch):
                    continue
                scenario_t, scenario_h = scenario.offsets(sensor, epoch)
                shift_t, shift_h = shift_t + scenario_t, shift_h + scenario_h
                noise, battery = scenario.noise(sensor, epoch), scenario.battery(sensor, epoch)
            reading = sensor.reading(
                epoch, temp_offset=shift_t, rh_offset=shift_h, noise=noise, battery=battery
            )
            if self.dropout_rate and self.rng.random() < self.dropout_rate:
                continue  # lost on the way: the device counted it (seq) but nobody got it
            if self.malformed_rate and self.rng.random() < self.malformed_rate:
                raw = self.rng.choice(MALFORMED)
                out.append(Message(sensor.sensor_id, topics.TELEMETRY, reading, raw=raw))
                continue
            out.append(Message(sensor.sensor_id, topics.TELEMETRY, reading))
        if scenario is not None and epoch >= scenario.done_at:
            self.scenario = None
        self.last_epoch = epoch
        return out

    def in_excursion(self, room: str, epoch: float) -> bool:
        """Whether ``room`` was in an excursion or scenario (recovery included) at ``epoch``."""
        if any(e.room == room and e.active(epoch) for e in self.excursions):
            return True
        return any(s.room == room and s.start <= epoch < s.done_at for s in self.scenarios)


MALFORMED = [
    b"{not json",
    b'{"ts": 0, "temperature": NaN}',
    b'{"ts": "2099-01-01T00:00:00+00:00", "temperature": 20, "humidity": 50}',
    b'{"temperature": 20, "humidity": 150}',
]


def encode(reading: dict) -> bytes:
    return json.dumps(reading, separators=(",", ":")).encode()


SIM_PROFILES = (
    "lantai",
    "zigbee2mqtt",
    "tasmota",
    "shelly_gen1",
    "shelly_gen2",
    "home_assistant",
    "generic",
)
# the payload keys of a device alarm code, per profile (devices.mqtt.sources.PROFILES)
_Z2M_ALARM_KEYS = {"water_leak": "water_leak", "smoke": "smoke", "door_open": "contact"}


def speak(profile: str, message: Message, *, topic_prefix: str = "lantai") -> list[tuple]:
    """``message`` as a device of ``profile`` would publish it: (topic, payload, retain) for
    each MQTT message, on the topics of that profile's default source (devices.mqtt.sources).
    Malformed messages (``raw``) keep their bytes on the profile's telemetry topic."""
    sid, kind, data = message.sensor_id, message.kind, message.data
    if profile == "lantai":
        return [
            (
                topics.topic_for(sid, kind, topic_prefix=topic_prefix),
                message.payload,
                message.retain,
            )
        ]
    reading = data if isinstance(data, dict) else {}
    status = data if isinstance(data, str) else ""
    online = status == "online"
    ts = reading.get("ts")
    when = dt.datetime.fromisoformat(ts) if isinstance(ts, str) else dt.datetime.now(dt.UTC)
    if profile == "zigbee2mqtt":
        base = f"zigbee2mqtt/{sid}"
        if kind == topics.STATUS:
            return [(f"{base}/availability", encode({"state": status}), True)]
        if message.raw is not None:
            return [(base, message.raw, False)]
        if kind == topics.ALARM:
            key = _Z2M_ALARM_KEYS.get(reading.get("code", ""), "tamper")
            value = reading.get("active", True)
            return [(base, encode({key: (not value) if key == "contact" else value}), False)]
        body = {k: reading[k] for k in ("temperature", "humidity", "battery") if k in reading}
        return [(base, encode({**body, "linkquality": 97}), False)]
    if profile == "tasmota":
        base = f"tele/{sid}"
        if kind == topics.STATUS:
            return [(f"{base}/LWT", b"Online" if online else b"Offline", True)]
        if message.raw is not None:
            return [(f"{base}/SENSOR", message.raw, False)]
        if kind == topics.ALARM:
            return []  # Tasmota has no device alarm of its own
        local = when.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M:%S")
        values = {"Temperature": reading.get("temperature"), "Humidity": reading.get("humidity")}
        return [
            (f"{base}/SENSOR", encode({"Time": local, "AM2301": values, "TempUnit": "C"}), False)
        ]
    if profile == "shelly_gen1":
        base = f"shellies/{sid}"
        if kind == topics.STATUS:
            return [(f"{base}/online", b"true" if online else b"false", True)]
        if message.raw is not None:
            return [(f"{base}/sensor/temperature", message.raw, False)]
        if kind == topics.ALARM:
            return [(f"{base}/sensor/flood", encode(bool(reading.get("active", True))), False)]
        return [
            (f"{base}/sensor/{key}", encode(reading[key]), False)
            for key in ("temperature", "humidity", "battery")
            if reading.get(key) is not None
        ]
    if profile == "shelly_gen2":
        if kind == topics.STATUS:
            return [(f"{sid}/online", b"true" if online else b"false", True)]
        if message.raw is not None:
            return [(f"{sid}/events/rpc", message.raw, False)]
        params: dict = {"ts": round(when.timestamp(), 2)}
        if kind == topics.ALARM:
            params["flood:0"] = {"id": 0, "alarm": bool(reading.get("active", True))}
        else:
            if reading.get("temperature") is not None:
                t = reading["temperature"]
                params["temperature:0"] = {"id": 0, "tC": t, "tF": round(t * 9 / 5 + 32, 1)}
            if reading.get("humidity") is not None:
                params["humidity:0"] = {"id": 0, "rh": reading["humidity"]}
            if reading.get("battery") is not None:
                params["devicepower:0"] = {"id": 0, "battery": {"percent": reading["battery"]}}
        body = {"src": sid, "dst": f"{sid}/events", "method": "NotifyStatus", "params": params}
        return [(f"{sid}/events/rpc", encode(body), False)]
    if profile == "home_assistant":
        base = f"homeassistant-state/{sid}"
        if kind == topics.STATUS:
            return [(f"{base}/availability", status.encode(), True)]
        if message.raw is not None:
            return [(f"{base}/state", message.raw, False)]
        if kind == topics.ALARM:
            return [
                (
                    f"{base}/state",
                    encode({"moisture": "ON" if reading.get("active", True) else "OFF"}),
                    False,
                )
            ]
        body = {k: reading[k] for k in ("temperature", "humidity", "battery") if k in reading}
        return [(f"{base}/state", encode(body), False)]
    if profile == "generic":  # a DTU gateway: scaled integers, epoch seconds, register as id
        topic = f"dtu/{sid}/data"
        if kind == topics.STATUS:
            return []  # the generic default source has no availability topic
        if message.raw is not None:
            return [(topic, message.raw, False)]
        body: dict = {"t": int(when.timestamp())}
        if kind == topics.ALARM:
            body["leak"] = 1 if reading.get("active", True) else 0
        for key, short in (("temperature", "T"), ("humidity", "H")):
            if reading.get(key) is not None:
                body[short] = int(round(reading[key] * 10))
        return [(topic, encode(body), False)]
    raise ValueError(f"unknown profile {profile!r}")
