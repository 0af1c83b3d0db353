"""Soak: the whole system as ``make run`` runs it, for a set time, under abuse.

    SOAK_SECONDS=1800 .venv/bin/python bench/soak.py

Starts ``scripts/run.py`` (embedded defaults: SQLite, the embedded MQTT broker, no Redis) in a
fresh directory with the sensor simulator at a high rate, then for ``SOAK_SECONDS``:
- publishes readings of its own sensor (QoS 1, one a second) and counts how many are stored;
- publishes random malformed messages (bad JSON, NUL, lone surrogates, huge and wrong-typed
  values, unknown sensors) at ``SOAK_BAD_PER_SECOND``;
- every ``SOAK_KILL_EVERY`` seconds SIGKILLs one worker in turn (ingest, alarm engine, search
  sync, notifications, the broker itself: a broker restart) and checks it comes back.

Prints one line per figure: restarts, provoked and unprovoked worker deaths (must be 0), killed
workers that came back, readings published / stored, dead letters, alarm events, the RSS of
each process at start and end, and ``/healthz`` at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psutil
from _harness import PYTHON, ROOT, free_port, report

SENSOR = "SOAK-01"
KILLABLE = ["mqtt-ingest", "alarms", "search-sync", "notifications", "mqtt-broker"]
BAD_PAYLOADS = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'{"ts": "yesterday", "temperature": 20}',
    b'{"ts": 1e30, "temperature": 20}',
    b'{"temperature": "warm", "humidity": []}',
    b'{"ts": 0, "temperature": 1e308, "humidity": -5}',
    b'{"code": "smoke\\u0000", "severity": "critical", "active": true, "message": "x"}',
    b'{"code": "smoke", "severity": "critical", "active": true, "message": "\\ud800"}',
    b'{"code": "door_open", "severity": "major", "active": true, "message": "'
    + b"x" * 5000
    + b'"}',
    b"\xff\xfe\x00garbage",
    b'{"a": ' * 200 + b"1" + b"}" * 200,
    b"[" + b'{"ts": 1, "temperature": 20},' * 500 + b"{}]",
]


def status(var: Path) -> dict:
    try:
        return json.loads((var / "run-status.json").read_text())
    except (OSError, ValueError):
        return {}


def manage_query(env: dict[str, str], code: str) -> dict:
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def rss_by_name(var: Path) -> dict[str, float]:
    result = {}
    for name, info in status(var).items():
        with contextlib.suppress(psutil.Error, TypeError, KeyError):
            result[name] = psutil.Process(info["pid"]).memory_info().rss / 2**20
    return result


def main() -> None:
    seconds = float(os.environ.get("SOAK_SECONDS", "300"))
    kill_every = float(os.environ.get("SOAK_KILL_EVERY", "60"))
    bad_rate = float(os.environ.get("SOAK_BAD_PER_SECOND", "2"))
    var = Path(tempfile.mkdtemp(prefix="lantai_soak_"))
    port, broker_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "MQTT_URL", "ELASTICSEARCH_URL"}
    }
    env.update(
        LANTAI_VAR_DIR=str(var),
        MQTT_EMBEDDED_PORT=str(broker_port),
        LANTAI_SIMULATOR_SENSORS=os.environ.get("SOAK_SENSORS", "12"),
        LANTAI_SIMULATOR_INTERVAL=os.environ.get("SOAK_INTERVAL", "0.5"),
        DEBUG="true",
        PYTHONUNBUFFERED="1",
    )
    log_path = var / "run.log"
    log = log_path.open("w")
    launcher = subprocess.Popen(
        [PYTHON, "scripts/run.py", "--port", str(port), "--records", "300"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(20261207)
    killed: list[tuple[str, int, float]] = []
    published = bad = 0
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            if launcher.poll() is not None:
                sys.exit(f"soak: the launcher exited with {launcher.returncode}; see {log_path}")
            time.sleep(1)
        manage_query(
            env,
            "import json; from devices.models import Sensor; from repository.models import "
            "StoreRoom; room = StoreRoom.objects.order_by('code').first(); "
            f"Sensor.objects.get_or_create(sensor_id='{SENSOR}', defaults={{'room': room, "
            "'interval_seconds': 1}); print(json.dumps({}))",
        )
        time.sleep(20)  # every worker started and warmed up
        rss_start = rss_by_name(var)
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"soak-{port}",
            clean_session=False,
        )
        client.connect_async("127.0.0.1", broker_port)
        client.loop_start()
        started = time.monotonic()
        next_kill = started + kill_every
        victims = iter(KILLABLE * 1000)
        second = int(time.time())
        while time.monotonic() - started < seconds:
            second += 1
            body = {"ts": second, "temperature": 20.0, "humidity": 50.0, "seq": published}
            client.publish(f"lantai/sensors/{SENSOR}/telemetry", json.dumps(body), qos=1)
            published += 1
            for _ in range(int(bad_rate)):
                topic = rng.choice(
                    [
                        f"lantai/sensors/{SENSOR}/telemetry",
                        f"lantai/sensors/{SENSOR}/alarm",
                        f"lantai/sensors/{SENSOR}/status",
                        "lantai/sensors/UNKNOWN-9/telemetry",
                        "lantai/sensors/x/y/z",
                    ]
                )
                client.publish(topic, rng.choice(BAD_PAYLOADS), qos=1)
                bad += 1
            if time.monotonic() >= next_kill:
                name = next(victims)
                pid = status(var).get(name, {}).get("pid")
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append((name, pid, time.monotonic()))
                        print(f"soak: killed {name} (pid {pid})", flush=True)
                    except ProcessLookupError:
                        pass
                next_kill += kill_every
            if launcher.poll() is not None:
                break
            time.sleep(max(0.0, started + (published) - time.monotonic()))
        time.sleep(30)  # let ingest catch up after the last kill
        rss_end = rss_by_name(var)
        client.loop_stop()
        client.disconnect()
        health = httpx.get(base + "/healthz", timeout=10).json()
        counts = manage_query(
            env,
            "import json; from storage_env.models import Reading, AlarmEvent; "
            "from devices.models import DeadLetter; "
            f"print(json.dumps({{'stored': Reading.objects.filter(sensor__sensor_id='{SENSOR}')"
            ".count(), 'dead': DeadLetter.objects.count(), "
            "'alarm_events': AlarmEvent.objects.count()}))",
        )
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(60)
        except subprocess.TimeoutExpired:
            launcher.kill()
        log.close()
    final = status(var)
    killed_pids = {pid for _name, pid, _at in killed}
    exits = [(name, e) for name, info in final.items() for e in info.get("exits", [])]
    unprovoked = [(name, e) for name, e in exits if e["pid"] not in killed_pids]
    came_back = sum(
        1 for name, pid, _at in killed if final.get(name, {}).get("pid") not in (None, pid)
    )
    report("soak_seconds", seconds, "s")
    report("soak_launcher_alive_at_end", 1.0 if launcher.returncode in (0, None) else 0.0, "bool")
    report("soak_restarts", sum(info.get("restarts", 0) for info in final.values()), "restarts")
    report("soak_workers_killed", len(killed), "kills")
    report("soak_killed_workers_restarted", came_back, "workers")
    report("soak_unprovoked_worker_deaths", len(unprovoked), "deaths")
    for name, e in unprovoked:
        print(f"soak: unprovoked exit of {name}: {e}", flush=True)
    report("soak_readings_published", published, "readings")
    report("soak_readings_stored", counts["stored"], "readings")
    report("soak_stored_of_published", 100.0 * counts["stored"] / max(1, published), "%")
    report("soak_malformed_published", bad, "messages")
    report("soak_dead_letters", counts["dead"], "rows")
    report("soak_alarm_events", counts["alarm_events"], "events")
    for name in sorted(set(rss_start) | set(rss_end)):
        if name in rss_start and name in rss_end:
            print(f"soak_rss_{name} {rss_start[name]:.1f} -> {rss_end[name]:.1f} MiB", flush=True)
    stale = health.get("checks", {}).get("workers", {}).get("stale", [])
    print(f"soak_healthz_status {health.get('status')} stale_workers={stale}", flush=True)
    if os.environ.get("SOAK_KEEP") != "1":
        shutil.rmtree(var, ignore_errors=True)
    else:
        print(f"soak: kept {var}", flush=True)


if __name__ == "__main__":
    main()
