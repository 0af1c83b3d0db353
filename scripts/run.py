"""Run the whole system on one machine: ``make run`` calls this.

Migrates, loads demo data when the database has no users, then starts the ASGI server and every
worker process whose management command exists (MQTT broker when ``MQTT_URL`` is unset, ingest,
alarm engine, simulator, search sync), prints the URL and the demo logins, and stops them all
together on Ctrl-C / SIGTERM or when one of them dies.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# name, management command (or None for the web server), extra args, condition
WORKERS = [
    ("mqtt-broker", "mqtt_broker", [], lambda env: not env.get("MQTT_URL")),
    ("mqtt-ingest", "mqtt_ingest", [], lambda env: True),
    ("alarms", "evaluate_alarms", [], lambda env: True),
    ("simulator", "simulate_sensors", ["--sensors", "12", "--interval", "5"], lambda env: True),
    ("search-sync", "search_sync", [], lambda env: True),
]


# Periodic jobs (idempotent management commands): name, seconds between runs. In production run
# them from cron or a systemd timer instead (see README).
PERIODIC = [("expire_grants", 300), ("send_overdue_reminders", 3600)]


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=check)


def available_commands() -> set[str]:
    out = subprocess.run(
        [PYTHON, "manage.py", "help", "--commands"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()

    env = dict(os.environ)
    (ROOT / "var").mkdir(exist_ok=True)
    print("lantai: migrating the database…", flush=True)
    manage("migrate", "--noinput", "-v", "0")
    if env.get("DEBUG", "").lower() not in {"1", "true", "yes", "on"}:
        manage("collectstatic", "--noinput", "-v", "0")
    manage("seed_demo", "--if-empty", "--records", str(args.records))

    commands = available_commands()
    specs = [
        (
            "web",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                args.host,
                "--port",
                str(args.port),
                "--ws",
                "websockets",
                "--proxy-headers",
                "--no-server-header",
            ],
        )
    ]
    for name, command, extra, condition in WORKERS:
        if command in commands and condition(env):
            specs.append((name, [PYTHON, "manage.py", command, *extra]))

    children: dict[str, subprocess.Popen] = {}
    for name, argv in specs:
        children[name] = subprocess.Popen(argv, cwd=ROOT, env=env)
        print(f"lantai: started {name} (pid {children[name].pid})", flush=True)

    from_demo = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from accounts.demo import logins_table; print(logins_table())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    print(
        f"\nLantai is running at http://{args.host}:{args.port}/  (staff: /staff/, "
        f"API docs: /api/docs/, health: /healthz)\nDemo logins:\n{from_demo}",
        flush=True,
    )

    stopping = False

    def stop(signum=None, frame=None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    periodic = {name: 0.0 for name, _every in PERIODIC if name in commands}
    every = dict(PERIODIC)
    jobs: dict[str, subprocess.Popen] = {}
    exit_code = 0
    while not stopping:
        now = time.monotonic()
        for name, due in periodic.items():
            running = jobs.get(name)
            if now >= due and (running is None or running.poll() is not None):
                jobs[name] = subprocess.Popen([PYTHON, "manage.py", name], cwd=ROOT, env=env)
                periodic[name] = now + every[name]
        for name, child in children.items():
            if child.poll() is not None:
                print(f"lantai: {name} exited with {child.returncode}; stopping", flush=True)
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.5)

    for child in [*children.values(), *jobs.values()]:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("lantai: stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
