"""Run the whole system on one machine: ``make run`` calls this.

The embedded default is a small archive's production: ``DEBUG`` stays off unless set, a secret
key is generated on the first start into the data directory (``var/secret_key``, mode 0600),
plain HTTP on this machine works (no HTTPS redirect, no secure-only cookies, unless set), and
the demo data is loaded only into a new database (``LANTAI_DEMO=false``: not even then).
``DEBUG=true make run`` is the development mode.

Migrates, loads demo data when the database is new, then starts the ASGI server and every
worker process whose management command exists (MQTT broker when ``MQTT_URL`` is unset, ingest,
alarm engine, simulator, search sync, notifications), prints the URL and the demo logins, and
supervises them: a process that dies is restarted with a backoff (see ``Supervisor``); Ctrl-C /
SIGTERM stops them all together.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# name, management command (or None for the web server), extra args, condition
WORKERS = [
    ("mqtt-broker", "mqtt_broker", [], lambda env: not env.get("MQTT_URL")),
    ("mqtt-ingest", "mqtt_ingest", [], lambda env: True),
    ("alarms", "evaluate_alarms", [], lambda env: True),
    # The demo's simulated sensors only on the embedded broker, unless asked for (a real
    # broker has real sensors): LANTAI_SIMULATOR=true.
    (
        "simulator",
        "simulate_sensors",
        [
            "--sensors",
            os.environ.get("LANTAI_SIMULATOR_SENSORS", "12"),
            "--interval",
            os.environ.get("LANTAI_SIMULATOR_INTERVAL", "5"),
        ],
        lambda env: (
            not env.get("MQTT_URL")
            or env.get("LANTAI_SIMULATOR", "").lower() in {"1", "true", "yes", "on"}
        ),
    ),
    ("search-sync", "search_sync", [], lambda env: True),
    ("ocr-pages", "ocr_pages", [], lambda env: True),  # waits (and says so) without tesseract
    ("notifications", "send_notifications", [], lambda env: True),
    ("imports", "run_imports", [], lambda env: True),
]


# Periodic jobs (idempotent management commands): name, seconds between runs. In production run
# them from cron or a systemd timer instead (see README).
PERIODIC = [("expire_grants", 300), ("send_overdue_reminders", 3600)]


def var_dir(env: Mapping[str, str]) -> Path:
    """Where the embedded default keeps its database, uploads and the launcher's status."""
    return Path(env.get("LANTAI_VAR_DIR") or ROOT / "var")


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def ensure_secret_key(env: MutableMapping[str, str]) -> Path | None:
    """With DEBUG off and no SECRET_KEY given, use ``<var>/secret_key``, made on the first start
    (50 random URL-safe bytes, created 0600 so it is never readable by others, even briefly)."""
    if is_true(env.get("DEBUG")) or env.get("SECRET_KEY") or env.get("SECRET_KEY_FILE"):
        return None
    path = var_dir(env) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            print(f"lantai: {path} was readable by others; made it 0600", flush=True)
            path.chmod(0o600)
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(50))
        print(f"lantai: generated a secret key in {path} (keep it; back it up)", flush=True)
    env["SECRET_KEY_FILE"] = str(path)
    return path


def embedded_defaults(env: MutableMapping[str, str], host: str) -> None:
    """Defaults for serving plain HTTP on this machine with DEBUG off; each one set in the
    environment wins. Behind a TLS proxy set SITE_URL=https://… and these stay production's."""
    if is_true(env.get("DEBUG")):
        return
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    if host in {"0.0.0.0", "::"}:  # every interface: add this machine's names
        name = socket.gethostname()
        hosts += [name, socket.getfqdn()]
        with contextlib.suppress(OSError):
            hosts.append(socket.gethostbyname(name))
    elif host not in hosts:
        hosts.append(f"[{host}]" if ":" in host else host)
    env.setdefault("ALLOWED_HOSTS", ",".join(dict.fromkeys(hosts)))
    if not (env.get("SITE_URL") or "").startswith("https://"):
        for name, value in [
            ("SECURE_SSL_REDIRECT", "false"),
            ("SECURE_HSTS_SECONDS", "0"),
            ("SESSION_COOKIE_SECURE", "false"),
            ("CSRF_COOKIE_SECURE", "false"),
        ]:
            env.setdefault(name, value)


def database_is_new() -> bool:
    """True when the database has never been migrated (no ``django_migrations`` table)."""
    out = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.db import connection; "
            "print('new' if 'django_migrations' not in connection.introspection.table_names() "
            "else 'migrated')",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().splitlines()[-1:] == ["new"]


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=check, env=os.environ)


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

    env = os.environ  # the children (and manage()) inherit what is set here
    var_dir(env).mkdir(parents=True, exist_ok=True)
    ensure_secret_key(env)
    embedded_defaults(env, args.host)
    new_database = database_is_new()
    print("lantai: migrating the database…", flush=True)
    manage("migrate", "--noinput", "-v", "0")
    if not is_true(env.get("DEBUG")):
        manage("collectstatic", "--noinput", "-v", "0")
    if new_database and env.get("LANTAI_DEMO", "true").lower() not in {"0", "false", "no", "off"}:
        manage("seed_demo", "--if-empty", "--allow-production", "--records", str(args.records))

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
                # whom to believe about X-Forwarded-For: the same list Django uses (empty:
                # nobody, so no local client can pose as another address)
                "--forwarded-allow-ips",
                env.get("TRUSTED_PROXIES", ""),
                "--no-server-header",
            ],
        )
    ]
    for name, command, extra, condition in WORKERS:
        if command in commands and condition(env):
            specs.append((name, [PYTHON, "manage.py", command, *extra]))

    supervisor = Supervisor(specs, dict(env))
    supervisor.start_all()

    from_demo = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from accounts.demo import DEMO_USERS, logins_table; "
            "from accounts.models import User; "
            "names = [demo.username for demo in DEMO_USERS]; "
            "print(logins_table() if User.objects.filter(username__in=names).exists() else "
            "'  (no demo users: create an administrator with manage.py createsuperuser)')",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    mode = "" if is_true(env.get("DEBUG")) else "\n(DEBUG off; DEBUG=true make run for development)"
    print(
        f"\nLantai is running at http://{args.host}:{args.port}/  (staff: /staff/, "
        f"API docs: /api/docs/, health: /healthz)\nDemo logins:\n{from_demo}" + mode,
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
    while not stopping:
        now = time.monotonic()
        for name, due in periodic.items():
            running = jobs.get(name)
            if now >= due and (running is None or running.poll() is not None):
                if running is not None and running.returncode:
                    print(f"lantai: job {name} failed with {running.returncode}", flush=True)
                jobs[name] = subprocess.Popen([PYTHON, "manage.py", name], cwd=ROOT, env=env)
                periodic[name] = now + every[name]
        supervisor.tick()
        time.sleep(0.5)

    supervisor.stop_all(extra=list(jobs.values()))
    print("lantai: stopped", flush=True)
    return 0


class Supervisor:
    """Keeps every process running: one that exits (crash, kill, or a clean exit nobody asked
    for) is restarted after a backoff that doubles with each quick death (1 s … 60 s) and
    resets once it has run for a minute. Says which process, how it ended and when it comes
    back; keeps the counts in ``var/run-status.json`` (read by ``bench/soak.py``)."""

    HEALTHY_AFTER = 60.0
    MAX_BACKOFF = 60.0

    def __init__(self, specs: list[tuple[str, list[str]]], env: dict[str, str]) -> None:
        self.specs = dict(specs)
        self.env = env
        self.children: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.quick_deaths: dict[str, int] = dict.fromkeys(self.specs, 0)
        self.restart_at: dict[str, float] = {}
        self.restarts: dict[str, int] = dict.fromkeys(self.specs, 0)
        self.exits: dict[str, list[dict]] = {name: [] for name in self.specs}
        self.status_file = var_dir(env) / "run-status.json"

    def start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.specs[name], cwd=ROOT, env=self.env)
        self.started[name] = time.monotonic()
        print(f"lantai: started {name} (pid {self.children[name].pid})", flush=True)

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)
        self.write_status()

    def tick(self) -> None:
        now = time.monotonic()
        changed = False
        for name, child in list(self.children.items()):
            if name in self.restart_at or child.poll() is None:
                continue
            code = child.returncode
            ran = now - self.started[name]
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            self.quick_deaths[name] = 0 if ran >= self.HEALTHY_AFTER else self.quick_deaths[name]
            self.quick_deaths[name] += 1
            delay = min(self.MAX_BACKOFF, 2.0 ** (self.quick_deaths[name] - 1))
            self.restart_at[name] = now + delay
            self.exits[name].append({"pid": child.pid, "code": code, "at": time.time()})
            print(
                f"lantai: {name} (pid {child.pid}) ended with {how} after {ran:.0f} s; "
                f"restarting in {delay:.0f} s",
                flush=True,
            )
            changed = True
        for name, at in list(self.restart_at.items()):
            if now >= at:
                del self.restart_at[name]
                self.restarts[name] += 1
                self.start(name)
                changed = True
        if changed:
            self.write_status()

    def write_status(self) -> None:
        status = {
            name: {
                "pid": self.children[name].pid if name in self.children else None,
                "running": name in self.children and self.children[name].poll() is None,
                "restarts": self.restarts[name],
                "exits": self.exits[name][-50:],
            }
            for name in self.specs
        }
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1), encoding="utf-8")
        tmp.replace(self.status_file)

    def stop_all(self, extra: list[subprocess.Popen] | None = None) -> None:
        processes = [*self.children.values(), *(extra or [])]
        for child in processes:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in processes:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
