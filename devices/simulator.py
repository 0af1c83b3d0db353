"""Realistic sensor behaviour for the demo and the benchmarks (no Django writes here)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field

from repository.choices import CLIMATE_RANGES, RoomTemplate


@dataclass
class SimulatedSensor:
    sensor_id: str
    template: str = RoomTemplate.PAPER
    kind: str = "climate"
    rng: random.Random = field(default_factory=random.Random)
    humidity_drift: float = 0.0
    excursion_left: int = 0
    excursion_temp: float = 0.0
    excursion_rh: float = 0.0
    battery: float = 100.0
    seq: int = 0

    def __post_init__(self) -> None:
        ranges = CLIMATE_RANGES.get(self.template, CLIMATE_RANGES[RoomTemplate.PAPER])
        # The character of a sensor depends on its id only, so the demo history and the live
        # simulator agree (no artificial jump between them).
        stable = random.Random(self.sensor_id)  # noqa: S311 - simulation
        t_width = ranges.temp_max - ranges.temp_min
        h_width = ranges.rh_max - ranges.rh_min
        self.base_temp = (ranges.temp_min + ranges.temp_max) / 2 + stable.uniform(-0.15, 0.15) * (
            t_width
        )
        self.base_rh = (ranges.rh_min + ranges.rh_max) / 2 + stable.uniform(-0.15, 0.15) * h_width
        # A narrow range (film masters: 13–15 °C) is kept by tighter air conditioning.
        self.temp_swing = min(0.8, t_width / 6)
        self.rh_swing = min(1.5, h_width / 8)
        self.battery = stable.uniform(40, 100)
        self.phase = stable.uniform(0, 2 * math.pi)

    def step(self, epoch: float, *, excursion_rate: float) -> dict:
        """One reading at ``epoch``: diurnal drift, slow humidity rise, occasional excursion."""
        self.seq += 1
        day = 2 * math.pi * (epoch % 86400) / 86400
        self.humidity_drift = max(-2.0, min(2.0, self.humidity_drift + self.rng.gauss(0.005, 0.03)))
        if self.excursion_left <= 0 and self.rng.random() < excursion_rate:
            self.excursion_left = self.rng.randint(6, 30)
            self.excursion_temp = self.rng.choice([0.0, 5.0, -4.0])
            self.excursion_rh = self.rng.choice([12.0, 20.0, -15.0])
        bump_t = bump_rh = 0.0
        if self.excursion_left > 0:
            self.excursion_left -= 1
            bump_t, bump_rh = self.excursion_temp, self.excursion_rh
        self.battery = max(0.0, self.battery - 0.001)
        temperature = (
            self.base_temp + self.temp_swing * math.sin(day + self.phase) + self.rng.gauss(0, 0.05)
        )
        humidity = (
            self.base_rh
            + self.humidity_drift
            + self.rh_swing * math.sin(day + self.phase + 1)
            + self.rng.gauss(0, 0.3)
        )
        if self.kind == "surface":  # a wall or floor: cooler, humidity not measured
            return {
                "ts": round(epoch, 3),
                "temperature": round(temperature - 3 + bump_t, 2),
                "battery": round(self.battery),
                "seq": self.seq,
            }
        return {
            "ts": round(epoch, 3),
            "temperature": round(temperature + bump_t, 2),
            "humidity": round(min(100.0, max(0.0, humidity + bump_rh)), 2),
            "battery": round(self.battery),
            "seq": self.seq,
        }


MALFORMED = [
    b"{not json",
    b'{"ts": 0, "temperature": NaN}',
    b'{"ts": "2099-01-01T00:00:00+00:00", "temperature": 20, "humidity": 50}',
    b'{"temperature": 20, "humidity": 150}',
]


def encode(reading: dict) -> bytes:
    return json.dumps(reading, separators=(",", ":")).encode()
