"""The demo climate model over simulated time: seeded, no broker, no sleeping."""

import collections
import datetime as dt
import math
import random

import pytest

from devices.mqtt import payloads
from devices.simulator import (
    DAY,
    MINUTE,
    SCENARIOS,
    SimulatedSensor,
    Simulation,
    bump,
    climate_range,
)
from repository.choices import CLIMATE_RANGES

START = dt.datetime(2025, 7, 1, tzinfo=dt.UTC).timestamp()  # summer: outside air is hot, humid
STEP = 120.0  # seconds between readings in the week-long runs
WEEK = 7 * DAY


def site(seed: int = 1) -> list[SimulatedSensor]:
    """Two climate sensors in a room for every template, and a surface sensor in the first."""
    sensors = []
    for index, template in enumerate(CLIMATE_RANGES):
        room = f"R{index:02d}"
        for number in (1, 2):
            sensors.append(
                SimulatedSensor(
                    f"TH-{room}-{number:02d}",
                    template=template,
                    room=room,
                    rng=random.Random(seed * 1000 + index * 10 + number),
                )
            )
    sensors.append(
        SimulatedSensor(
            "SF-R00-01",
            template=sensors[0].template,
            kind="surface",
            room="R00",
            rng=random.Random(seed),
        )
    )
    return sensors


def in_band(sensor: SimulatedSensor, data: dict) -> bool:
    r = sensor.ranges
    return r.temp_min <= data["temperature"] <= r.temp_max and r.rh_min <= data["humidity"] <= (
        r.rh_max
    )


def run(simulation: Simulation, start: float, seconds: float, step: float = STEP):
    """(epoch, message) for every message over ``seconds`` of simulated time."""
    out = []
    for k in range(int(seconds / step)):
        epoch = start + k * step
        out.extend((epoch, message) for message in simulation.tick(epoch))
    return out


@pytest.fixture(scope="module")
def week():
    simulation = Simulation(site(), rng=random.Random(7))
    return simulation, run(simulation, START, WEEK)


def climate_readings(simulation, messages):
    for epoch, message in messages:
        sensor = simulation.by_id.get(message.sensor_id)
        if message.kind == "telemetry" and sensor.kind == "climate":
            yield epoch, sensor, message.data


def test_every_template_is_simulated(week):
    simulation, messages = week
    templates = {sensor.template for _, sensor, _ in climate_readings(simulation, messages)}
    assert templates == set(CLIMATE_RANGES)


def test_daily_deviation_from_the_middle_stays_well_within_jgj25_outside_excursions(week):
    simulation, messages = week
    worst: dict[tuple[str, int], list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    daily: dict[tuple[str, int], list[tuple[float, float]]] = collections.defaultdict(list)
    for epoch, sensor, data in climate_readings(simulation, messages):
        if simulation.in_excursion(sensor.room, epoch):
            continue
        day = int((epoch - START) // DAY)
        t_mid = (sensor.ranges.temp_min + sensor.ranges.temp_max) / 2
        h_mid = (sensor.ranges.rh_min + sensor.ranges.rh_max) / 2
        entry = worst[sensor.sensor_id, day]
        entry[0] = max(entry[0], abs(data["temperature"] - t_mid))
        entry[1] = max(entry[1], abs(data["humidity"] - h_mid))
        daily[sensor.sensor_id, day].append((data["temperature"], data["humidity"]))
    assert len(worst) == 7 * 2 * len(CLIMATE_RANGES)
    for (sensor_id, day), (temp_dev, rh_dev) in worst.items():
        ranges = simulation.by_id[sensor_id].ranges
        # "well within": at most 3/4 of JGJ 25's ±2 °C / ±5 %RH, and inside the band
        assert temp_dev <= 0.75 * ranges.temp_swing, (sensor_id, day, temp_dev)
        assert rh_dev <= 0.75 * ranges.rh_swing, (sensor_id, day, rh_dev)
        assert temp_dev < (ranges.temp_max - ranges.temp_min) / 2
        assert rh_dev < (ranges.rh_max - ranges.rh_min) / 2
    # and as the alarm engine measures a day's swing: the deviation from the day's mean
    for (sensor_id, _day), values in daily.items():
        ranges = simulation.by_id[sensor_id].ranges
        temps, hums = [v[0] for v in values], [v[1] for v in values]
        t_mean, h_mean = sum(temps) / len(temps), sum(hums) / len(hums)
        assert max(max(temps) - t_mean, t_mean - min(temps)) <= ranges.temp_swing / 2
        assert max(max(hums) - h_mean, h_mean - min(hums)) <= ranges.rh_swing * 0.6


def test_readings_are_in_band_at_least_98_percent_of_the_time(week):
    simulation, messages = week
    per_room = collections.Counter()
    inside = collections.Counter()
    for _, sensor, data in climate_readings(simulation, messages):
        per_room[sensor.room] += 1
        inside[sensor.room] += in_band(sensor, data)
    for room, total in per_room.items():
        assert inside[room] / total >= 0.98, (room, inside[room] / total)


def test_never_two_rooms_in_excursion_at_once(week):
    simulation, messages = week
    spans = sorted((e.start, e.end) for e in simulation.excursions)
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert next_start >= end
    out_of_band = collections.defaultdict(set)
    for epoch, sensor, data in climate_readings(simulation, messages):
        if not in_band(sensor, data):
            out_of_band[epoch].add(sensor.room)
    assert out_of_band  # excursions do leave the band
    assert max(len(rooms) for rooms in out_of_band.values()) == 1


def test_excursions_happen_are_short_and_leave_the_band_briefly(week):
    simulation, messages = week
    excursions = list(simulation.excursions)
    rooms = len(CLIMATE_RANGES)
    # about one a room a day, less the time another room is busy
    assert 3 * rooms <= len(excursions) <= 14 * rooms
    per_room = collections.Counter(e.room for e in excursions)
    assert len(per_room) >= 0.9 * rooms  # (each room: e^-6 chance of none in a week)
    assert all(10 * MINUTE <= e.duration <= 40 * MINUTE for e in excursions)
    assert {e.kind for e in excursions} == {"humid", "warm", "dry", "cool"}
    # each stretch of out-of-band readings of a sensor is shorter than its excursion
    last_in = {}
    longest = 0.0
    for epoch, sensor, data in climate_readings(simulation, messages):
        if in_band(sensor, data):
            last_in[sensor.sensor_id] = epoch
        else:
            assert simulation.in_excursion(sensor.room, epoch), (sensor.sensor_id, epoch, data)
            longest = max(longest, epoch - last_in[sensor.sensor_id])
    assert longest <= 40 * MINUTE


def test_an_excursion_rises_and_falls_smoothly():
    samples = [bump(k / 100) for k in range(101)]
    assert samples[0] == samples[-1] == 0.0
    assert max(samples) == 1.0
    peak = samples.index(1.0)
    assert all(a <= b for a, b in zip(samples[:peak], samples[1 : peak + 1], strict=True))
    assert all(a >= b for a, b in zip(samples[peak:], samples[peak + 1 :], strict=False))
    assert max(abs(a - b) for a, b in zip(samples, samples[1:], strict=False)) < 0.05


def test_dropouts_are_rare_and_leave_a_gap_in_seq(week):
    simulation, messages = week
    expected = int(WEEK / STEP)
    seqs = collections.defaultdict(list)
    for _, message in messages:
        if message.kind == "telemetry":
            seqs[message.sensor_id].append(message.data["seq"])
    for sensor_id, numbers in seqs.items():
        missing = expected - len(numbers)
        assert 0 <= missing <= 0.01 * expected, sensor_id
        assert numbers == sorted(numbers) and numbers[-1] == expected
    assert sum(expected - len(n) for n in seqs.values()) > 0  # but they do happen


def test_battery_drains_very_slowly(week):
    simulation, messages = week
    levels = collections.defaultdict(list)
    for _, message in messages:
        if message.kind == "telemetry":
            levels[message.sensor_id].append(message.data["battery"])
    for values in levels.values():
        assert min(values) >= 40  # no low-battery alarm in normal running
        assert values[0] - values[-1] <= 1  # 0.08 % a day


def test_only_telemetry_in_normal_running(week):
    _, messages = week
    assert {message.kind for _, message in messages} == {"telemetry"}


def test_readings_pass_the_ingest_validation(week):
    simulation, messages = week
    for epoch, message in messages[:: len(messages) // 500]:
        now = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
        readings, errors = payloads.parse_telemetry(
            message.payload, sensor_id=message.sensor_id, now=now
        )
        assert readings and not errors


def test_the_character_of_a_sensor_depends_on_its_id_only():
    a = SimulatedSensor("TH-K01-01", template="paper", rng=random.Random(1))
    b = SimulatedSensor("TH-K01-01", template="paper", rng=random.Random(2))
    assert (a.base_temp, a.base_rh, a.phase, a.battery_at(START)) == (
        b.base_temp,
        b.base_rh,
        b.phase,
        b.battery_at(START),
    )


def test_an_unknown_template_falls_back_to_paper():
    assert climate_range("no-such-template") == CLIMATE_RANGES["paper"]
    assert SimulatedSensor("TH-X", template="no-such-template").ranges == CLIMATE_RANGES["paper"]


def test_the_stand_alone_step_keeps_the_demo_history_in_band():
    """storage_env.demo calls ``step(epoch, excursion_rate=...)`` every 10 minutes."""
    for index, template in enumerate(CLIMATE_RANGES):
        sensor = SimulatedSensor(f"TH-H{index}", template=template, rng=random.Random(index))
        values = [sensor.step(START + k * 600, excursion_rate=0.001) for k in range(60 * 144)]
        inside = sum(in_band(sensor, v) for v in values)
        assert inside / len(values) >= 0.98
        surface = SimulatedSensor(f"SF-H{index}", template=template, kind="surface")
        assert "humidity" not in surface.step(START, excursion_rate=0.001)


def test_excursion_rate_overrides_the_daily_rate():
    simulation = Simulation(site(), rng=random.Random(3), excursion_rate=0.0)
    run(simulation, START, 2 * DAY, step=300)
    assert not simulation.excursions
    busy = Simulation(site(), rng=random.Random(3), excursions_per_day=0.0, max_excursions=3)
    busy.excursion_rate = 0.5
    busy.tick(START)
    assert len(busy.active) == 3


# --- scenarios --------------------------------------------------------------------------------


def scenario_run(name: str, *, minutes: float = 60, room: str = "R00", start: float = START):
    """A quiet hour, the scenario, then two hours; no random excursions or dropouts."""
    simulation = Simulation(site(), rng=random.Random(5), excursions_per_day=0, dropout_rate=0)
    messages = run(simulation, start - 3600, 3600, step=60)
    scenario = simulation.start_scenario(name, start=start, room=room, minutes=minutes)
    messages += run(simulation, start, minutes * MINUTE + 2 * 3600, step=60)
    return simulation, scenario, messages


def room_values(simulation, messages, room, sensor_id=None):
    return [
        (epoch, data)
        for epoch, sensor, data in climate_readings(simulation, messages)
        if sensor.room == room and (sensor_id is None or sensor.sensor_id == sensor_id)
    ]


def test_hvac_failure_drifts_out_of_band_stays_out_then_recovers():
    simulation, scenario, messages = scenario_run("hvac_failure", minutes=90)
    ranges = simulation.rooms["R00"][0].ranges
    values = room_values(simulation, messages, "R00")
    before = [d for e, d in values if e < scenario.start]
    drifting = [d for e, d in values if scenario.start <= e < scenario.start + 10 * MINUTE]
    held = [d for e, d in values if scenario.start + 30 * MINUTE <= e < scenario.end]
    after = [d for e, d in values if e >= scenario.done_at]
    assert all(ranges.rh_min <= d["humidity"] <= ranges.rh_max for d in before + drifting)
    assert held and all(d["temperature"] > ranges.temp_max for d in held)
    assert all(d["humidity"] > ranges.rh_max for d in held)
    assert after and all(ranges.temp_min <= d["temperature"] <= ranges.temp_max for d in after)
    assert all(ranges.rh_min <= d["humidity"] <= ranges.rh_max for d in after)
    # a gradual drift, not a jump
    temps = [
        d["temperature"]
        for e, d in room_values(simulation, messages, "R00", "TH-R00-01")
        if scenario.start <= e < scenario.end
    ]
    assert max(abs(a - b) for a, b in zip(temps, temps[1:], strict=False)) < 1.0
    # the other rooms are not touched
    others = [(s, d) for _, s, d in climate_readings(simulation, messages) if s.room != "R00"]
    assert all(in_band(s, d) for s, d in others)
    assert not [m for _, m in messages if m.kind != "telemetry"]


def test_leak_raises_water_leak_humidity_rises_then_it_clears():
    simulation, scenario, messages = scenario_run("leak", minutes=30)
    assert scenario.device_id == "LK-R00"
    alarms = [(e, m) for e, m in messages if m.kind == "alarm"]
    assert [(m.sensor_id, m.data["active"]) for _, m in alarms] == [
        ("LK-R00", True),
        ("LK-R00", False),
    ]
    (on_at, on), (off_at, off) = alarms
    assert on_at == scenario.start and off_at == scenario.end
    assert set(on.data) == {"ts", "code", "severity", "active", "message"}
    assert (on.data["code"], on.data["severity"]) == ("water_leak", "critical")
    now = dt.datetime.fromtimestamp(off_at, tz=dt.UTC)
    first = payloads.parse_alarm(on.payload, sensor_id="LK-R00", now=now)
    last = payloads.parse_alarm(off.payload, sensor_id="LK-R00", now=now)
    assert (first.code, first.active, last.active) == ("water_leak", True, False)
    assert first.message and last.message
    statuses = [m for _, m in messages if m.kind == "status"]
    assert [(m.sensor_id, m.data, m.retain) for m in statuses] == [("LK-R00", "online", True)]
    ranges = simulation.rooms["R00"][0].ranges
    late = [
        d
        for e, d in room_values(simulation, messages, "R00")
        if scenario.end - 10 * MINUTE <= e < scenario.end
    ]
    assert late and all(d["humidity"] > ranges.rh_max for d in late)
    after = [d for e, d in room_values(simulation, messages, "R00") if e >= scenario.done_at]
    assert after and all(ranges.rh_min <= d["humidity"] <= ranges.rh_max for d in after)


def test_door_open_alarms_and_drifts_toward_the_outside_air():
    simulation, scenario, messages = scenario_run("door_open", minutes=40, room="R01")
    alarms = [m for _, m in messages if m.kind == "alarm"]
    assert [(m.sensor_id, m.data["code"], m.data["active"]) for m in alarms] == [
        ("DR-R01", "door_open", True),
        ("DR-R01", "door_open", False),
    ]
    sensor = simulation.by_id["TH-R01-01"]
    values = room_values(simulation, messages, "R01", "TH-R01-01")
    before = [d for e, d in values if e < scenario.start]
    open_late = [d for e, d in values if scenario.end - 10 * MINUTE <= e < scenario.end]
    mean = lambda rows, key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
    # July: outside is 32 °C / 80 %RH, so the room gets warmer and more humid, out of band
    assert mean(open_late, "temperature") > mean(before, "temperature") + 5
    assert mean(open_late, "humidity") > mean(before, "humidity") + 5
    assert all(not in_band(sensor, d) for d in open_late)
    # in winter the same door lets the cold in
    _, winter, winter_messages = scenario_run(
        "door_open",
        minutes=40,
        room="R01",
        start=dt.datetime(2025, 1, 10, tzinfo=dt.UTC).timestamp(),
    )
    cold = [
        d
        for e, d in room_values(simulation, winter_messages, "R01", "TH-R01-01")
        if winter.end - 10 * MINUTE <= e < winter.end
    ]
    assert mean(cold, "temperature") < sensor.ranges.temp_min


def test_sensor_dying_drains_gets_noisy_stops_and_goes_offline():
    simulation, scenario, messages = scenario_run("sensor_dying", minutes=60)
    target = scenario.target_id
    assert target == "TH-R00-01"
    mine = [(e, m) for e, m in messages if m.sensor_id == target]
    readings = [(e, m.data) for e, m in mine if m.kind == "telemetry"]
    during = [(e, d) for e, d in readings if scenario.start <= e < scenario.end]
    batteries = [d["battery"] for _, d in during]
    assert batteries == sorted(batteries, reverse=True) and batteries[-1] <= 5
    assert batteries[0] - batteries[-1] >= 30

    # noisy: the minute-to-minute jumps late in the decline dwarf those before
    def jumps(rows):
        return max(
            abs(a["humidity"] - b["humidity"])
            for (_, a), (_, b) in zip(rows, rows[1:], strict=False)
        )

    before = [(e, d) for e, d in readings if e < scenario.start]
    assert jumps(during[len(during) // 2 :]) > 5 * jumps(before)
    # stops: nothing between the failure and the end, then the status goes offline (retained)
    assert not [e for e, _ in readings if scenario.fails_at <= e < scenario.end]
    statuses = [(e, m.data, m.retain) for e, m in mine if m.kind == "status"]
    assert statuses[0][1:] == ("offline", True)
    assert scenario.fails_at <= statuses[0][0] < scenario.fails_at + 60
    # back to normal at the end: online again, a fresh battery, readings resume
    assert statuses[1][1:] == ("online", True) and statuses[1][0] >= scenario.end
    resumed = [d for e, d in readings if e >= scenario.end]
    assert resumed and resumed[0]["battery"] == 100
    # the room's other sensor is unaffected
    other = [m for _, m in messages if m.sensor_id == "TH-R00-02" and m.kind == "telemetry"]
    assert len(other) == len([1 for _, m in messages if m.sensor_id == "TH-R00-02"])
    assert min(m.data["battery"] for m in other) >= 40


def test_a_scenario_blocks_random_excursions_and_then_normal_life_resumes():
    simulation = Simulation(site(), rng=random.Random(11), excursions_per_day=24.0)
    scenario = simulation.start_scenario("hvac_failure", start=START, room="R02", minutes=120)
    run(simulation, START, 3 * 3600, step=60)
    overlapping = [e for e in simulation.excursions if e.start < scenario.done_at]
    assert not overlapping
    assert simulation.scenario is None and simulation.excursions  # over, excursions again


def test_start_scenario_refuses_unknown_names_and_rooms():
    simulation = Simulation(site(), rng=random.Random(1))
    with pytest.raises(ValueError, match="unknown scenario"):
        simulation.start_scenario("meteor", start=START)
    with pytest.raises(ValueError, match="no simulated sensor"):
        simulation.start_scenario("leak", start=START, room="Z99")
    assert simulation.start_scenario("leak", start=START).room == "R00"  # the first room


def test_every_scenario_is_described_in_chinese_and_english():
    assert set(SCENARIOS) == {"hvac_failure", "leak", "door_open", "sensor_dying"}
    for info in SCENARIOS.values():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in info.zh)
        assert info.en.isascii() and len(info.en) > 20


def test_normal_running_never_uses_wall_clock_values():
    """Same seed, same readings: the model is a pure function of the seed and the epochs."""
    first = run(Simulation(site(), rng=random.Random(9)), START, DAY / 4)
    second = run(Simulation(site(), rng=random.Random(9)), START, DAY / 4)
    assert [m.payload for _, m in first] == [m.payload for _, m in second]
    assert math.isfinite(sum(m.data["temperature"] for _, m in first))
