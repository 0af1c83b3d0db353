"""End-to-end MQTT ingest: readings/s from QoS 1 publish to committed row, in one run beside
a per-message ORM save baseline and a bare paho subscriber that only counts (the ceiling).

    MQTT_URL=mqtt://127.0.0.1:1883 \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_env_bench \
        .venv/bin/python bench/ingest_throughput.py

The publisher is a separate process publishing one reading per message, QoS 1, as fast as it
can for BENCH_INGEST_SECONDS (default 8; 60 for the full run). Also prints the ingest worker's
RSS after the run (BENCH_INGEST_RSS_READINGS, default 0: set e.g. 1000000 to stream that many
readings through the worker in 60 s windows at BENCH_INGEST_RSS_RATE, default 2000/s, and
report its RSS after the first window and at the end).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, production_env, report  # noqa: E402

SENSORS = 200


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def ensure_database() -> None:
    """Create the bench database if missing, and migrate it."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
        env=dict(os.environ, DEBUG="true"),
    )


def bench_sensors(prefix: str, count: int = SENSORS) -> list[str]:
    from devices.models import Sensor
    from repository.models import StoreRoom

    room, _ = StoreRoom.objects.get_or_create(code="BENCH", defaults={"name": "基准测试库房"})
    ids = [f"B{i:04d}" for i in range(count)]
    Sensor.objects.bulk_create(
        [Sensor(sensor_id=s, room=room, interval_seconds=3600) for s in ids],
        ignore_conflicts=True,
    )
    return ids


def clear_readings() -> None:
    from django.db import connection

    from storage_env.models import Reading

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reading._meta.db_table}")  # noqa: S608


def publisher(
    url: str,
    prefix: str,
    ids: list[str],
    seconds: float,
    start_at: float,
    out,
    rate: float = 0.0,
    first: int = 0,
) -> None:
    """Separate process: QoS 1, one reading per message, as fast as the broker acknowledges
    (or at ``rate`` messages/s)."""
    import paho.mqtt.client as mqtt

    from devices.mqtt.client import BrokerConfig

    config = BrokerConfig.from_url(url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect(config.host, config.port)
    client.loop_start()
    while time.time() < start_at:
        time.sleep(0.001)
    base = time.time() - 3600 - first / 1000.0
    sent = 0
    deadline = start_at + seconds
    info = None
    while time.time() < deadline:
        if rate and sent > rate * (time.time() - start_at):
            time.sleep(0.005)
            continue
        for _ in range(200):
            sensor = ids[sent % len(ids)]
            ts = base + (first + sent) / 1000.0  # unique per sensor
            body = json.dumps(
                {"ts": round(ts, 3), "temperature": 19.5, "humidity": 51.0, "seq": sent}
            ).encode()
            info = client.publish(f"{prefix}/sensors/{sensor}/telemetry", body, qos=1)
            sent += 1
        while len(client._out_messages) > 5000:  # noqa: SLF001 - keep memory bounded
            time.sleep(0.001)
    if info is not None:
        info.wait_for_publish(60)
    out.put((sent, time.time() - start_at))
    client.disconnect()
    client.loop_stop()


def run_publisher(
    url: str, prefix: str, ids: list[str], seconds: float, rate: float = 0.0, first: int = 0
):
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    proc = ctx.Process(
        target=publisher, args=(url, prefix, ids, seconds, start_at, out, rate, first)
    )
    proc.start()
    return proc, out, start_at


def wait_rows(expected: int, timeout: float) -> tuple[int, float]:
    from storage_env.models import Reading

    deadline = time.time() + timeout
    last, stable_since = -1, time.time()
    while time.time() < deadline:
        count = Reading.objects.count()
        if count >= expected:
            return count, time.time()
        if count != last:
            last, stable_since = count, time.time()
        elif time.time() - stable_since > 5:
            break
        time.sleep(0.05)
    from django.db.models import Max

    top = Reading.objects.aggregate(m=Max("received_at"))["m"]
    return Reading.objects.count(), top.timestamp() if top else time.time()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_ceiling(url: str, ids: list[str], seconds: float) -> float:
    import paho.mqtt.client as mqtt

    from devices.mqtt.client import BrokerConfig

    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    config = BrokerConfig.from_url(url)
    counter = {"n": 0, "last": 0.0}

    def on_message(client, userdata, message):
        counter["n"] += 1
        counter["last"] = time.time()

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-count-{prefix}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.connect(config.host, config.port)
    client.subscribe(f"{prefix}/sensors/+/telemetry", qos=1)
    client.loop_start()
    time.sleep(0.5)
    proc, out, start_at = run_publisher(url, prefix, ids, seconds)
    sent, _ = out.get()
    proc.join()
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()
    report("ingest_publisher_sent", sent / seconds, "msg/s")
    return counter["n"] / max(0.001, counter["last"] - start_at)


def bench_orm_baseline(url: str, ids: list[str], seconds: float) -> float:
    """The naive subscriber: one ORM save per message inside the callback."""
    import paho.mqtt.client as mqtt
    from django.db import IntegrityError

    from devices.models import Sensor
    from devices.mqtt.client import BrokerConfig
    from storage_env.models import Reading

    clear_readings()
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    sensors = {s.sensor_id: s for s in Sensor.objects.filter(sensor_id__in=ids)}
    config = BrokerConfig.from_url(url)
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(client, userdata, message):
        sensor_id = message.topic.split("/")[-2]
        data = json.loads(message.payload)
        sensor = sensors[sensor_id]
        try:
            Reading.objects.create(
                sensor=sensor,
                room_id=sensor.room_id,
                ts=dt.datetime.fromtimestamp(data["ts"], tz=dt.UTC),
                temperature=data["temperature"],
                humidity=data["humidity"],
            )
        except IntegrityError:
            return
        state["n"] += 1
        state["first"] = state["first"] or time.time()
        state["last"] = time.time()

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-orm-{prefix}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.connect(config.host, config.port)
    client.subscribe(f"{prefix}/sensors/+/telemetry", qos=1)
    client.loop_start()
    time.sleep(0.5)
    proc, out, start_at = run_publisher(url, prefix, ids, seconds)
    out.get()
    proc.join()
    time.sleep(2.0)
    client.disconnect()
    client.loop_stop()
    return state["n"] / max(0.001, state["last"] - start_at)


def start_ingest(prefix: str) -> subprocess.Popen:
    env = production_env(MQTT_TOPIC_PREFIX=prefix)  # DEBUG off, as in production
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "mqtt_ingest", "--client-id", f"bench-ingest-{prefix}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from devices.models import IngestState

    deadline = time.time() + 60
    while time.time() < deadline:
        state = IngestState.objects.filter(client_id=f"bench-ingest-{prefix}").first()
        if state and state.connected:
            break
        if state is None or not state.connected:
            time.sleep(0.2)
    time.sleep(1.0)
    return proc


def bench_ingest(url: str, ids: list[str], seconds: float) -> tuple[float, int, int, float]:
    clear_readings()
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    worker = start_ingest(prefix)
    try:
        proc, out, start_at = run_publisher(url, prefix, ids, seconds)
        sent, _ = out.get()
        proc.join()
        stored, done_at = wait_rows(sent, timeout=120)
        rss = rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(30)
    return stored / max(0.001, done_at - start_at), stored, sent, rss


def bench_rss(url: str, ids: list[str], readings: int, rate: float) -> tuple[float, float]:
    """Stream ``readings`` through one worker in 60 s windows at ``rate``; RSS after the first
    window and at the end (flat memory: the two are close)."""
    from storage_env.models import Reading

    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    clear_readings()
    worker = start_ingest(prefix)
    first_rss = 0.0
    try:
        total = 0
        while total < readings:
            window = min(60.0, (readings - total) / rate)
            proc, out, _ = run_publisher(url, prefix, ids, window, rate, first=total)
            sent, _ = out.get()
            proc.join()
            total += sent
            wait_rows(total, timeout=60)
            first_rss = first_rss or rss_mb(worker.pid)
            print(
                f"  rss: {Reading.objects.count()} stored, {rss_mb(worker.pid):.1f} MB", flush=True
            )
        return first_rss, rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    url = os.environ.get("MQTT_URL") or ""
    if not url:
        print("ingest_throughput: MQTT_URL is not set; skipped", flush=True)
        return
    ensure_database()
    django_setup()
    seconds = float(os.environ.get("BENCH_INGEST_SECONDS", "8"))
    ids = bench_sensors("bench")
    ceiling = bench_ceiling(url, ids, seconds)
    rate, stored, sent, rss = bench_ingest(url, ids, seconds)
    baseline = bench_orm_baseline(url, ids, seconds)
    report("ingest_ceiling_bare_paho", ceiling, "msg/s")
    report("ingest_readings_per_s", rate, "readings/s")
    report("ingest_orm_per_message_baseline", baseline, "readings/s")
    report("ingest_vs_baseline", rate / max(baseline, 0.001), "x")
    report("ingest_stored_of_published", 100.0 * stored / max(sent, 1), "%")
    report("ingest_worker_rss", rss, "MB")
    big = int(os.environ.get("BENCH_INGEST_RSS_READINGS", "0"))
    if big:
        rss_rate = float(os.environ.get("BENCH_INGEST_RSS_RATE", "2000"))
        early, late = bench_rss(url, ids, big, rss_rate)
        report("ingest_worker_rss_after_first_window", early, "MB")
        report(f"ingest_worker_rss_after_{big}_readings", late, "MB")


if __name__ == "__main__":
    main()
