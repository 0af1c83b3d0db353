"""End-to-end MQTT ingest: readings/s from QoS 1 publish to committed row, in one run beside
a per-message ORM save baseline and a bare paho subscriber that only counts (the ceiling).

    MQTT_URL=mqtt://127.0.0.1:1883 \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_env_bench \
    BENCH_INGEST_SECONDS=60 .venv/bin/python bench/ingest_throughput.py

One reading per MQTT message, QoS 1, from a publisher in a separate process
(``_mqtt_publisher.py``). Each of the three consumers (bare paho counter, the ``mqtt_ingest``
worker, the per-message ORM subscriber) gets the same publisher for BENCH_INGEST_SECONDS (default
20; 60 for the figure of record). The publisher is paced so that the broker never drops: at most
BENCH_INGEST_WINDOW (default 20000) readings published and not yet done by the consumer, at most
1000 PUBLISHes awaiting their PUBACK, and optionally a fixed offered rate (BENCH_INGEST_RATE
messages/s, default 0 = as fast as the window allows). The window is far below what Mosquitto
keeps for a subscriber (its receive maximum plus max_queued_messages) and below the worker's
buffer limit, so every published reading must be committed exactly once: the run checks it.

The worker runs twice, on stock paho (``MQTT_STOCK_CLIENT=1``: ``mqtt.Client``, manual acks one
``ack`` call each) and on its ``IngestClient`` subclass (the default), against the same publisher
and database: ``ingest_stock_paho_readings_per_s`` and ``ingest_subclass_readings_per_s``
(``ingest_readings_per_s`` is the default path's figure). BENCH_INGEST_PATHS_ONLY=1 stops after
those two runs (no ceilings, no ORM baseline).

Figures: offered rate, committed readings/s over the whole publishing window (and the slowest
10 s of it), stored fraction, the ceiling and the baseline, the worker's CPU per reading and its
RSS. Optional: BENCH_INGEST_ARRAY=N adds a clearly labelled figure for N readings per message
(JSON array payload, allowed by the SPEC); BENCH_INGEST_RSS_READINGS=1000000 streams that many
readings through one worker at BENCH_INGEST_RSS_RATE (default 2000/s) and reports its RSS;
BENCH_INGEST_PYSPY=/tmp/ingest.svg (or .txt for collapsed stacks) profiles the worker with py-spy
during its run. Topic prefixes are random per phase (``bench_<hex>``), so concurrent users of the
broker are not disturbed.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ensure_database, production_env, report  # noqa: E402
from _mqtt_publisher import publish_readings  # noqa: E402

SENSORS = 200
WINDOW = int(os.environ.get("BENCH_INGEST_WINDOW", "20000"))
RATE = float(os.environ.get("BENCH_INGEST_RATE", "0"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def bench_sensors(count: int = SENSORS) -> list[str]:
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
        cursor.execute(f"TRUNCATE {Reading._meta.db_table}")


class Progress:
    """Samples the consumer's "done" count every 50 ms: shares it with the publisher (the
    closed loop) and keeps (time, count) samples to compute rates over any interval."""

    def __init__(self, read) -> None:
        self.read = read
        self.value = mp.get_context("spawn").Value("q", 0, lock=False)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            count = self.read()
            self.value.value = count
            self.samples.append((time.time(), count))
            self._stop.wait(0.05)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, moment: float) -> float:
        """Count at wall-clock ``moment`` (linear between samples)."""
        before = [(t, c) for t, c in self.samples if t <= moment]
        after = [(t, c) for t, c in self.samples if t >= moment]
        if not before:
            return float(after[0][1]) if after else 0.0
        if not after:
            return float(before[-1][1])
        (t0, c0), (t1, c1) = before[-1], after[0]
        return float(c0) if t1 == t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)

    def rate(self, start: float, end: float) -> float:
        return (self.at(end) - self.at(start)) / max(end - start, 1e-9)

    def slowest(self, start: float, end: float, span: float = 10.0) -> float:
        """Lowest rate over any ``span``-second interval in [start, end] (1 s steps)."""
        if end - start <= span:
            return self.rate(start, end)
        rates, moment = [], start
        while moment + span <= end + 1e-9:
            rates.append(self.rate(moment, moment + span))
            moment += 1.0
        return min(rates)

    def wait_for(self, target: int, timeout: float, idle: float = 10.0) -> bool:
        """Until the count reaches ``target``, or it stops moving for ``idle`` seconds."""
        deadline = time.time() + timeout
        last, since = -1, time.time()
        while time.time() < deadline:
            count = self.value.value
            if count >= target:
                return True
            if count != last:
                last, since = count, time.time()
            elif time.time() - since > idle:
                return False
            time.sleep(0.05)
        return False


def publish(url: str, prefix: str, ids: list[str], seconds: float, done, **options):
    """Start the publisher process; returns (process, result queue, start time)."""
    from devices.mqtt.client import BrokerConfig

    config = BrokerConfig.from_url(url)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    proc = ctx.Process(
        target=publish_readings,
        kwargs=dict(
            host=config.host,
            port=config.port,
            prefix=prefix,
            ids=ids,
            seconds=seconds,
            start_at=start_at,
            done=done,
            out=out,
            window=options.pop("window", WINDOW),
            rate=options.pop("rate", RATE),
            **options,
        ),
    )
    proc.start()
    return proc, out, start_at


def finish(proc, out) -> dict:
    import queue

    while True:
        try:
            messages, readings, offered_s, cpu_s, unacked = out.get(timeout=1.0)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"publisher exited with {proc.exitcode}") from None
    proc.join()
    if unacked:
        raise RuntimeError(f"{unacked} PUBLISHes never acknowledged by the broker")
    return {"messages": messages, "readings": readings, "offered_s": offered_s, "cpu_s": cpu_s}


def subscriber(prefix: str, client_id: str, on_message, *, raw: bool = False):
    """A paho 2 subscriber, MQTT 5, QoS 1, automatic acknowledgements. Stock ``mqtt.Client``;
    with ``raw`` the worker's ``IngestClient`` and its ``on_raw_message`` path. Both ask for a
    receive maximum of 65535 as the worker does (without it Mosquitto allows 20 messages in
    flight and queues 1000 more, then drops)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from devices.mqtt.client import IngestClient, broker_config

    config = broker_config()
    client = (IngestClient if raw else mqtt.Client)(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    if raw:
        client.on_raw_message = on_message
    else:
        client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = 65535
    client.connect(config.host, config.port, properties=properties)
    client.subscribe(f"{prefix}/sensors/+/telemetry", qos=1)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("subscription not acknowledged")
    return client


def bench_ceiling(url: str, ids: list[str], seconds: float, *, raw: bool = False) -> dict:
    """A subscriber that only counts messages: what one Python MQTT client can take (stock
    paho, or with ``raw`` the worker's receive path)."""
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    counter = [0]

    def on_message(*args):
        counter[0] += 1

    client = subscriber(prefix, f"bench-count-{prefix}", on_message, raw=raw)
    return run_subscriber(client, url, prefix, ids, seconds, lambda: counter[0], wait=60)


def run_subscriber(client, url, prefix, ids, seconds, count, *, wait: float) -> dict:
    """Publish for ``seconds`` to ``client`` (already subscribed), wait up to ``wait`` s for
    ``count()`` to reach what was sent, disconnect; the publisher's figures plus the rate."""
    try:
        with Progress(count) as progress:
            proc, out, start_at = publish(url, prefix, ids, seconds, progress.value)
            sent = finish(proc, out)
            progress.wait_for(sent["messages"], wait)
    finally:
        client.disconnect()
        client.loop_stop()
    return {**sent, "rate": progress.rate(start_at, start_at + seconds), "done": count()}


def bench_orm_baseline(url: str, ids: list[str], seconds: float) -> dict:
    """The naive subscriber: one ORM save per message inside the callback."""
    from django.db import IntegrityError, connection

    from devices.models import Sensor
    from storage_env.models import Reading

    clear_readings()
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    sensors = {s.sensor_id: s for s in Sensor.objects.filter(sensor_id__in=ids)}
    saved = [0]

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
                seq=data.get("seq"),
            )
        except IntegrityError:
            return
        saved[0] += 1

    client = subscriber(prefix, f"bench-orm-{prefix}", on_message)
    try:
        return run_subscriber(client, url, prefix, ids, seconds, lambda: saved[0], wait=120)
    finally:
        connection.close()  # the paho thread's connection is its own; this one is ours


def committed_counter():
    """Rows committed so far, read incrementally (one writer: ids grow with commit order)."""
    import psycopg
    from django.db import connection

    from storage_env.models import Reading

    db = connection.settings_dict
    conn = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    )
    table = Reading._meta.db_table
    state = {"count": 0, "max_id": 0}

    def read() -> int:
        count, top = conn.execute(
            f"SELECT count(*), max(id) FROM {table} WHERE id > %s",
            [state["max_id"]],
        ).fetchone()
        if count:
            state["count"] += count
            state["max_id"] = top
        return state["count"]

    return read, conn


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_ingest(prefix: str, *, stock: bool = False) -> subprocess.Popen:
    """``mqtt_ingest`` on the worker's ``IngestClient``, or with ``stock`` on stock paho."""
    env = production_env(  # DEBUG off, as in production
        MQTT_TOPIC_PREFIX=prefix, MQTT_STOCK_CLIENT="1" if stock else "0"
    )
    client_id = f"bench-ingest-{prefix}"
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "mqtt_ingest", "--client-id", client_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from devices.models import IngestState

    deadline = time.time() + 60
    while time.time() < deadline:
        state = IngestState.objects.filter(client_id=client_id).first()
        if state and state.connected:
            break
        if proc.poll() is not None:
            raise RuntimeError("mqtt_ingest exited during start-up")
        time.sleep(0.2)
    time.sleep(1.0)  # subscribed
    return proc


def stop_ingest(proc: subprocess.Popen, prefix: str) -> None:
    """SIGTERM, then forget the worker: its state row and its persistent session on the
    broker (a clean-start connection with the same client id ends it)."""
    import paho.mqtt.client as mqtt

    from devices.models import IngestState
    from devices.mqtt.client import broker_config

    proc.terminate()
    proc.wait(30)
    client_id = f"bench-ingest-{prefix}"
    IngestState.objects.filter(client_id=client_id).delete()
    config = broker_config()
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.connect(config.host, config.port, clean_start=True)
    client.loop_start()
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def profile(pid: int, seconds: float) -> subprocess.Popen | None:
    target = os.environ.get("BENCH_INGEST_PYSPY")
    if not target:
        return None
    py_spy = str(Path(PYTHON).with_name("py-spy"))
    fmt = "flamegraph" if target.endswith(".svg") else "raw"
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--format",
            fmt,
            "--output",
            target,
            "--threads",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def verify_exactly_once(readings: int) -> tuple[int, int]:
    """(rows stored, distinct readings stored); each published reading has its own seq."""
    from django.db.models import Count

    from storage_env.models import Reading

    stats = Reading.objects.aggregate(rows=Count("id"), distinct=Count("seq", distinct=True))
    return stats["rows"], stats["distinct"]


GENERIC_MAPPING = {
    "temperature": {"path": "T", "scale": 0.1},
    "humidity": {"path": "H", "scale": 0.1},
    "time": {"path": "t", "format": "epoch"},
}


def generic_source(prefix: str) -> None:
    """A sensor source with a generic JSON mapping (scaled integers, epoch time) on
    ``g<prefix>/+/data``: the same readings as the native contract, through a mapping."""
    from devices.models import SensorSource
    from devices.services import save_sensor_source

    SensorSource.objects.all().delete()
    save_sensor_source(
        None,
        {
            "name": f"bench {prefix}",
            "enabled": True,
            "profile": "generic",
            "topic_filters": f"g{prefix}/+/data",
            "sensor_id_from": "topic",
            "sensor_id_level": 1,
            "mapping": GENERIC_MAPPING,
        },
        acting_user=None,
    )


def bench_ingest(
    url: str,
    ids: list[str],
    seconds: float,
    array_size: int = 1,
    *,
    stock: bool = False,
    generic: bool = False,
) -> dict:
    clear_readings()
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    if generic:
        generic_source(prefix)
    worker = start_ingest(prefix, stock=stock)
    read, conn = committed_counter()
    try:
        cpu_before = process_cpu_seconds(worker.pid)
        with Progress(read) as progress:
            proc, out, start_at = publish(
                url, prefix, ids, seconds, progress.value, array_size=array_size, generic=generic
            )
            spy = profile(worker.pid, seconds)
            sent = finish(proc, out)
            progress.wait_for(sent["readings"], 120)
            drained_at = time.time()
        cpu = process_cpu_seconds(worker.pid) - cpu_before
        rss = rss_mb(worker.pid)
        if spy is not None:
            spy.wait(seconds + 30)
    finally:
        conn.close()
        stop_ingest(worker, prefix)
    rows, distinct = verify_exactly_once(sent["readings"])
    if generic:  # no seq through a mapping: (sensor, ts) is unique and every ts distinct
        distinct = rows
    return {
        **sent,
        "rate": progress.rate(start_at, start_at + seconds),
        "slowest_10s": progress.slowest(start_at, start_at + seconds),
        "end_to_end_s": drained_at - start_at,
        "rows": rows,
        "distinct": distinct,
        "cpu_us_per_reading": 1e6 * cpu / max(rows, 1),
        "rss": rss,
    }


def bench_rss(url: str, ids: list[str], readings: int, rate: float) -> tuple[float, float]:
    """Stream ``readings`` through one worker in 60 s windows at ``rate``; RSS after the first
    window and at the end (flat memory: the two are close)."""
    prefix = f"bench_{uuid.uuid4().hex[:6]}"
    clear_readings()
    worker = start_ingest(prefix)
    read, conn = committed_counter()
    first_rss = 0.0
    try:
        total = 0
        with Progress(read) as progress:
            while total < readings:
                count = int(min(readings - total, rate * 60))
                proc, out, _ = publish(
                    url,
                    prefix,
                    ids,
                    count / rate + 30,  # a deadline; the limit ends the window
                    progress.value,
                    rate=rate,
                    first=total,
                    limit=count,
                )
                sent = finish(proc, out)["readings"]
                if not sent:
                    raise RuntimeError("the publisher sent nothing")
                total += sent
                progress.wait_for(total, 120)
                first_rss = first_rss or rss_mb(worker.pid)
                print(
                    f"  rss: {progress.value.value} stored, {rss_mb(worker.pid):.1f} MB", flush=True
                )
        return first_rss, rss_mb(worker.pid)
    finally:
        conn.close()
        stop_ingest(worker, prefix)


def check_exactly_once(*runs: dict) -> None:
    for run in runs:
        if run["distinct"] != run["readings"] or run["rows"] != run["distinct"]:
            raise SystemExit(
                f"ingest: {run['rows']} rows, {run['distinct']} distinct readings of "
                f"{run['readings']} published: not exactly once"
            )


def report_sources(native: dict, generic: dict) -> None:
    for name, run in (("native", native), ("generic_mapping", generic)):
        report(f"ingest_{name}_readings_per_s", run["rate"], "readings/s")
        report(f"ingest_{name}_readings_per_s_slowest_10s", run["slowest_10s"], "readings/s")
        report(f"ingest_{name}_cpu_per_reading", run["cpu_us_per_reading"], "us")
        report(f"ingest_{name}_stored_of_published", 100.0 * run["rows"] / run["readings"], "%")
    report("ingest_generic_vs_native", 100.0 * generic["rate"] / max(native["rate"], 0.001), "%")


def main() -> None:
    url = os.environ.get("MQTT_URL") or ""
    if not url:
        print("ingest_throughput: MQTT_URL is not set; skipped", flush=True)
        return
    ensure_database()
    django_setup()
    seconds = float(os.environ.get("BENCH_INGEST_SECONDS", "20"))
    ids = bench_sensors()
    if os.environ.get("BENCH_INGEST_SOURCES_ONLY"):
        # the native contract and a generic JSON mapping (a sensor source), same run
        native = bench_ingest(url, ids, seconds)
        generic = bench_ingest(url, ids, seconds, generic=True)
        report_sources(native, generic)
        return
    # The worker on stock paho and on its IngestClient subclass: same publisher, same database.
    stock = bench_ingest(url, ids, seconds, stock=True)
    ingest = bench_ingest(url, ids, seconds)
    for name, run in (("stock_paho", stock), ("subclass", ingest)):
        report(f"ingest_{name}_readings_per_s", run["rate"], "readings/s")
        report(f"ingest_{name}_readings_per_s_slowest_10s", run["slowest_10s"], "readings/s")
        report(f"ingest_{name}_cpu_per_reading", run["cpu_us_per_reading"], "us")
        report(f"ingest_{name}_duplicate_rows", run["rows"] - run["distinct"], "rows")
        report(f"ingest_{name}_stored_of_published", 100.0 * run["distinct"] / run["readings"], "%")
    if os.environ.get("BENCH_INGEST_PATHS_ONLY"):
        check_exactly_once(stock, ingest)
        return
    ceiling = bench_ceiling(url, ids, seconds)
    ceiling_raw = bench_ceiling(url, ids, seconds, raw=True)
    baseline = bench_orm_baseline(url, ids, seconds)
    report("ingest_publisher_offered_rate", ingest["readings"] / ingest["offered_s"], "msg/s")
    report("ingest_readings_per_s", ingest["rate"], "readings/s")
    report("ingest_readings_per_s_slowest_10s", ingest["slowest_10s"], "readings/s")
    report("ingest_stored_of_published", 100.0 * ingest["distinct"] / ingest["readings"], "%")
    report("ingest_duplicate_rows", ingest["rows"] - ingest["distinct"], "rows")
    report("ingest_end_to_end_seconds", ingest["end_to_end_s"], "s")
    report("ingest_ceiling_bare_paho", ceiling["rate"], "msg/s")
    report(
        "ingest_ceiling_received_of_published", 100.0 * ceiling["done"] / ceiling["messages"], "%"
    )
    report("ingest_ceiling_worker_receive_path", ceiling_raw["rate"], "msg/s")
    report(
        "ingest_ceiling_worker_receive_path_received_of_published",
        100.0 * ceiling_raw["done"] / ceiling_raw["messages"],
        "%",
    )
    report("ingest_orm_per_message_baseline", baseline["rate"], "readings/s")
    report("ingest_orm_stored_of_published", 100.0 * baseline["done"] / baseline["messages"], "%")
    report("ingest_vs_baseline", ingest["rate"] / max(baseline["rate"], 0.001), "x")
    report("ingest_vs_bare_paho_ceiling", 100.0 * ingest["rate"] / max(ceiling["rate"], 0.001), "%")
    report("ingest_worker_cpu_per_reading", ingest["cpu_us_per_reading"], "us")
    report("ingest_publisher_cpu_per_message", 1e6 * ingest["cpu_s"] / ingest["messages"], "us")
    report("ingest_worker_rss", ingest["rss"], "MB")
    check_exactly_once(stock, ingest)
    report_sources(ingest, bench_ingest(url, ids, seconds, generic=True))
    array_size = int(os.environ.get("BENCH_INGEST_ARRAY", "0"))
    if array_size > 1:
        batch = bench_ingest(url, ids, seconds, array_size=array_size)
        report(f"ingest_array{array_size}_readings_per_s", batch["rate"], "readings/s")
        report(
            f"ingest_array{array_size}_stored_of_published",
            100.0 * batch["distinct"] / batch["readings"],
            "%",
        )
    big = int(os.environ.get("BENCH_INGEST_RSS_READINGS", "0"))
    if big:
        rss_rate = float(os.environ.get("BENCH_INGEST_RSS_RATE", "2000"))
        early, late = bench_rss(url, ids, big, rss_rate)
        report("ingest_worker_rss_after_first_window", early, "MB")
        report(f"ingest_worker_rss_after_{big}_readings", late, "MB")


if __name__ == "__main__":
    main()
