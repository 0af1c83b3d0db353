"""Alarm latency: an out-of-range reading published over MQTT → ``alarm.raised`` received by
websocket clients, with many websockets open (ingest workers, alarm engines and ASGI server each
in their own process), measured twice: the embedded default (no Redis: the database relay of
core/live.py) and the Redis channel layer. With two engines and two ingest workers (MQTT 5
shared subscription) by default, it also counts alarms raised twice and readings stored.

    MQTT_URL=mqtt://127.0.0.1:1883 REDIS_URL=redis://127.0.0.1:6379/2 \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_env_bench \\
        .venv/bin/python bench/alarm_latency.py

BENCH_ALARM_SOCKETS (default 200) websockets, BENCH_ALARM_TRIALS (default 20) alarms,
BENCH_ALARM_ENGINES and BENCH_ALARM_INGEST_WORKERS (default 2 each). Latency is
measured for every delivery (sockets × trials); p50/p95 are over all of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
import uuid

from _harness import PYTHON, ROOT, asgi_server, production_env, report
from ingest_throughput import django_setup, ensure_database


def setup_room(prefix: str, trials: int) -> tuple[str, list[str]]:
    from django.conf import settings
    from django.test import Client

    from accounts.choices import Role
    from accounts.models import User
    from accounts.permissions import role_group
    from devices.models import Sensor
    from repository.models import StoreRoom
    from storage_env.models import Alarm, ClimatePolicy

    user, _ = User.objects.get_or_create(username="bench_keeper")
    user.groups.set([role_group(Role.KEEPER)])
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    room, _ = StoreRoom.objects.get_or_create(code="BENCH-AL", defaults={"name": "告警基准库房"})
    ClimatePolicy.objects.update_or_create(
        room=room, defaults={"sustain_minutes": 0, "clear_minutes": 0}
    )
    Alarm.objects.filter(room=room).delete()
    ids = [f"AL-{prefix[-6:]}-{i:03d}" for i in range(trials)]
    Sensor.objects.bulk_create(
        [Sensor(sensor_id=s, room=room, interval_seconds=3600) for s in ids],
        ignore_conflicts=True,
    )
    return cookie, ids


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def measure(ws_url: str, origin: str, cookie: str, sockets: int, ids: list[str], publish):
    import websockets.asyncio.client as wsclient

    received: dict[str, list[float]] = {sensor_id: [] for sensor_id in ids}
    connections = []
    for _ in range(sockets):
        connections.append(
            await wsclient.connect(
                ws_url, origin=origin, additional_headers={"Cookie": cookie}, compression=None
            )
        )

    async def reader(connection) -> None:
        async for raw in connection:
            message = json.loads(raw)
            # one rule per trial (a humidity of 80 %RH also raises the fluctuation rule)
            if (
                message.get("type") == "alarm.raised"
                and message["payload"].get("rule") == "rh_high"
            ):
                sensor_id = message["payload"].get("sensor_id")
                if sensor_id in received:
                    received[sensor_id].append(time.time())

    tasks = [asyncio.create_task(reader(c)) for c in connections]
    await asyncio.sleep(1.0)
    latencies: list[float] = []
    firsts: list[float] = []
    for sensor_id in ids:
        sent_at = time.time()
        publish(sensor_id)
        deadline = time.time() + 10
        while len(received[sensor_id]) < sockets and time.time() < deadline:
            await asyncio.sleep(0.005)
        deliveries = [(t - sent_at) * 1000 for t in received[sensor_id]]
        latencies += deliveries
        if deliveries:
            firsts.append(min(deliveries))
        await asyncio.sleep(0.3)
    for task in tasks:
        task.cancel()
    for connection in connections:
        await connection.close()
    return latencies, firsts, sockets * len(ids)


def run_mode(mode: str, sockets: int, trials: int, engines: int, ingesters: int) -> None:
    """One measurement: ``mode`` "redis" (channel layer on Redis) or "embedded" (no Redis:
    pushes travel through the database relay of core/live.py)."""
    import paho.mqtt.client as mqtt

    from devices.mqtt.client import BrokerConfig
    from storage_env.choices import AlarmEventKind
    from storage_env.models import AlarmEvent, Reading

    prefix = f"bench_alarm_{uuid.uuid4().hex[:6]}"
    cookie, ids = setup_room(prefix, trials)
    env = production_env(MQTT_TOPIC_PREFIX=prefix)
    if mode == "embedded":
        env.pop("REDIS_URL", None)
        env["LIVE_PUSH_VIA_DATABASE"] = "true"
    else:
        env["LIVE_PUSH_VIA_DATABASE"] = "false"
    if ingesters > 1:
        env["MQTT_SHARED_GROUP"] = f"g{prefix[-6:]}"
    workers = [
        start(["mqtt_ingest", "--client-id", f"bench-{prefix}-{i}"], env) for i in range(ingesters)
    ] + [start(["evaluate_alarms"], env) for _ in range(engines)]
    config = BrokerConfig.from_url(os.environ["MQTT_URL"])
    publisher = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{prefix}"
    )
    publisher.connect(config.host, config.port)
    publisher.loop_start()

    def publish(sensor_id: str) -> None:
        body = {"ts": round(time.time(), 3), "temperature": 20.0, "humidity": 80.0}
        publisher.publish(
            f"{prefix}/sensors/{sensor_id}/telemetry", json.dumps(body).encode(), qos=1
        )

    try:
        with asgi_server("uvicorn", env) as url:
            time.sleep(3.0)  # ingest connected, engine started
            ws_url = url.replace("http://", "ws://") + "/ws/climate/"
            latencies, firsts, expected = asyncio.run(
                measure(ws_url, url, cookie, sockets, ids, publish)
            )
            time.sleep(2.0)  # let every engine finish its passes over the same readings
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    name = f"alarm_latency_{mode}"
    if len(latencies) < 2:
        print(f"{name}: only {len(latencies)} deliveries of {expected}", flush=True)
        return
    quantiles = statistics.quantiles(latencies, n=100)
    report(f"{name}_p50", quantiles[49], "ms")
    report(f"{name}_p95", quantiles[94], "ms")
    report(f"{name}_first_socket_p50", statistics.median(firsts), "ms")
    report(f"{name}_websockets", sockets, "sockets")
    report(f"{name}_delivered", 100.0 * len(latencies) / expected, "%")
    # exactly once with several engines / ingest workers on one database
    raised = AlarmEvent.objects.filter(
        kind=AlarmEventKind.RAISED, alarm__sensor__sensor_id__in=ids
    ).values_list("alarm__rule", "alarm__subject")
    per_alarm: dict[tuple[str, str], int] = {}
    for key in raised:
        per_alarm[key] = per_alarm.get(key, 0) + 1
    report(f"{name}_engines", engines, "processes")
    report(f"{name}_ingest_workers", ingesters, "processes")
    report(f"{name}_alarms_raised_twice", sum(1 for n in per_alarm.values() if n > 1), "alarms")
    stored = Reading.objects.filter(sensor__sensor_id__in=ids).count()
    report(f"{name}_readings_stored_of_published", 100.0 * stored / len(ids), "%")


def main() -> None:
    if not os.environ.get("MQTT_URL"):
        print("alarm_latency: MQTT_URL is needed; skipped", flush=True)
        return
    ensure_database()
    # The session is created here and read by the server: same SECRET_KEY for both.
    os.environ["SECRET_KEY"] = production_env()["SECRET_KEY"]
    django_setup()
    sockets = int(os.environ.get("BENCH_ALARM_SOCKETS", "200"))
    trials = int(os.environ.get("BENCH_ALARM_TRIALS", "20"))
    engines = int(os.environ.get("BENCH_ALARM_ENGINES", "2"))
    ingesters = int(os.environ.get("BENCH_ALARM_INGEST_WORKERS", "2"))
    run_mode("embedded", sockets, trials, engines, ingesters)
    if os.environ.get("REDIS_URL"):
        run_mode("redis", sockets, trials, engines, ingesters)
    else:
        print("alarm_latency: REDIS_URL unset; the Redis mode is not measured", flush=True)


if __name__ == "__main__":
    main()
