"""Load and soak behind nginx: concurrent users of every persona for a set time while sensors
report over MQTT and alarms fire — the production processes as deploy/ runs them.

    .venv/bin/python bench/load.py                       # 50 users, 10 minutes, 50 sensors/10 s
    LOAD_SECONDS=60 LOAD_USERS=10 .venv/bin/python bench/load.py     # a quick look

Needs PostgreSQL (``LOAD_DATABASE_URL``, default the database ``lantai_load_bench`` on
127.0.0.1:5432, dropped and seeded with ``LOAD_RECORDS`` demo records unless ``LOAD_KEEP_DB=1``),
Redis (db 10), the Mosquitto broker (``MQTT_URL``, topics under their own prefix) and Debian's
nginx. Starts, each as its systemd unit in deploy/ does, with ``DEBUG`` off: Uvicorn with
``LOAD_WEB_WORKERS`` (2) workers behind the shipped nginx site (tests/ops/front.py), and the
workers ``mqtt_ingest``, ``evaluate_alarms``, ``search_sync``, ``send_notifications``; plus
``simulate_sensors`` with ``LOAD_SENSORS`` (50) sensors every ``LOAD_INTERVAL`` (10) s and a
raised excursion rate so that alarms fire, and a leak and an open-door scenario in mid-run.

The users: the public (anonymous) and each demo persona, signed in. Each holds its own session
and walks like a person: starts at its home page, follows a link of its navigation or of the
page it is on (the links a page shows that persona: nothing is listed by hand), searches with
words people type, and pauses ``LOAD_THINK`` (1–5) seconds between pages. Staff users keep
their notifications websocket open. A response is an error when it is not 2xx/3xx or the
request fails; 403 and 404 count as errors too (a persona is only shown links it may follow).

Prints, one figure per line: requests, errors (with the first few), p50/p95 per page kind
(the path with ids folded, kinds with enough samples) and for all HTML pages, downloads
(CSV/XLSX/PDF) apart; websocket messages received; readings published/stored; alarm events;
dead letters; the RSS of every process at start and at the end, and each minute for the web
server and two workers (flat, or still growing?). Target (issue 18): 0 errors,
p95 ≤ 300 ms for pages, memory flat.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx
import psutil
import websockets
from _harness import (
    PYTHON,
    ROOT,
    SERVERS,
    free_port,
    production_env,
    report,
    seeded_database,
    wait_http,
)

sys.path.insert(0, str(ROOT))
from tests.ops.front import plain_http_site

SECONDS = float(os.environ.get("LOAD_SECONDS", "600"))
USERS = int(os.environ.get("LOAD_USERS", "50"))
RECORDS = int(os.environ.get("LOAD_RECORDS", "20000"))
SENSORS = int(os.environ.get("LOAD_SENSORS", "50"))
INTERVAL = float(os.environ.get("LOAD_INTERVAL", "10"))
WEB_WORKERS = os.environ.get("LOAD_WEB_WORKERS", "2")
THINK = tuple(float(x) for x in os.environ.get("LOAD_THINK", "1,5").split(","))
DATABASE_URL = os.environ.get(
    "LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lantai_load_bench"
)
PREFIX = "lantai-load"

# Who the users are: (persona, share of the users). None is the public.
MIX = [
    (None, 0.36),
    ("researcher", 0.16),
    ("frontdesk", 0.12),
    ("archivist", 0.12),
    ("keeper", 0.10),
    ("approver", 0.08),
    ("admin", 0.06),
]
WORDS = ["档案", "会议纪要", "合同", "2019 工作 总结", "人事 任免", "财务", "通知", "hyjy", "批复"]
# Not followed: leaving, language switches, the websocket and API schema, the admin, and GET
# links that start a long job or a download of everything.
SKIP = re.compile(
    r"^/(i18n/|accounts/logout|static/|media/|ws/|jsi18n/|api/schema|api/docs|staff/admin/)"
)
DOWNLOAD = re.compile(r"\.(csv|xlsx|pdf|zip)$|[?&]format=(csv|xlsx|pdf)|/(export|pdf|labels)\b")
WORKERS = ["mqtt_ingest", "evaluate_alarms", "search_sync", "send_notifications"]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nav: list[str] = []
        self.body: list[str] = []
        self._nav_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "nav":
            self._nav_depth += 1
        if tag == "a":
            href = dict(attrs).get("href") or ""
            (self.nav if self._nav_depth else self.body).append(href)

    def handle_endtag(self, tag):
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1


def same_site(base: str, hrefs: list[str]) -> list[str]:
    out = []
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        parts = urlsplit(urljoin(base, href))
        if parts.netloc and parts.netloc != urlsplit(base).netloc:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not SKIP.match(parts.path):
            out.append(path)
    return out


def kind_of(path: str) -> str:
    """The page kind: the path with every segment that holds a digit folded to ``{}`` and the
    query reduced to its keys."""
    parts = urlsplit(path)
    segments = ["{}" if re.search(r"\d", s) else s for s in parts.path.split("/")]
    keys = sorted({kv.split("=")[0] for kv in parts.query.split("&") if kv})
    return "/".join(segments) + (f"?{'&'.join(keys)}" if keys else "")


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.group: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.requests = 0
        self.ws_messages = 0
        self.ws_failures: list[str] = []

    def add(self, path: str, status: int | None, seconds: float, content_type: str) -> None:
        self.requests += 1
        if status is None or status >= 400:
            self.errors.append(f"{status} {path}")
            return
        kind = kind_of(path)
        self.latency[kind].append(seconds)
        if DOWNLOAD.search(path) or not content_type.startswith("text/html"):
            group = "download" if DOWNLOAD.search(path) else "other"
        else:
            group = "page"
        self.group[group].append(seconds)


async def user(persona, base, cookie, stats: Stats, stop_at: float, rng) -> None:
    cookies = {"sessionid": cookie} if cookie else {}
    home = "/" if persona in (None, "researcher") else "/staff/"
    async with httpx.AsyncClient(
        base_url=base,
        cookies=cookies,
        timeout=30,
        follow_redirects=False,
        headers={"Accept-Language": rng.choice(["zh-hans", "zh-hans", "en"])},
    ) as client:
        nav: list[str] = []
        here: list[str] = []
        path = home
        steps = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status, content_type, text = None, "", ""
            try:
                response = await client.get(path)
                status = response.status_code
                content_type = response.headers.get("content-type", "")
                if content_type.startswith("text/html"):
                    text = response.text
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("location", "")
                    if "/accounts/login" in location and persona:
                        status = 401  # a signed-in persona was sent to the sign-in page
                    else:
                        here = same_site(base + path, [location])
            except httpx.HTTPError as exc:
                stats.errors.append(f"{type(exc).__name__} {path}")
                stats.requests += 1
            else:
                stats.add(path, status, time.perf_counter() - started, content_type)
            if text:
                links = Links()
                links.feed(text)
                found_nav = same_site(base + path, links.nav)
                if path == home and found_nav:
                    nav = found_nav
                here = [p for p in same_site(base + path, links.body) if not DOWNLOAD.search(p)]
                downloads = [p for p in same_site(base + path, links.body) if DOWNLOAD.search(p)]
                if downloads and rng.random() < 0.05:
                    here = downloads
            steps += 1
            await asyncio.sleep(rng.uniform(*THINK))
            roll = rng.random()
            if steps % 12 == 0 or not (nav or here):
                path = home
            elif roll < 0.15:
                search = "/search/" if home == "/" else "/staff/search/"
                path = f"{search}?q={quote(rng.choice(WORDS))}"
            elif roll < 0.55 and nav:
                path = rng.choice(nav)
            elif here:
                path = rng.choice(here)
            else:
                path = home


async def listener(base_ws: str, cookie: str, stats: Stats, stop_at: float) -> None:
    """A staff user's notifications websocket, held for the whole run."""
    try:
        async with websockets.connect(
            f"{base_ws}/ws/notifications/",
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": "http://127.0.0.1"},
            open_timeout=30,
        ) as socket:
            while time.monotonic() < stop_at:
                try:
                    left = max(0.1, stop_at - time.monotonic())
                    await asyncio.wait_for(socket.recv(), timeout=left)
                    stats.ws_messages += 1
                except TimeoutError:
                    break
    except Exception as exc:  # counted and printed
        stats.ws_failures.append(f"{type(exc).__name__}: {exc}"[:200])


def sessions(env: dict[str, str]) -> dict[str, str]:
    """A signed-in session cookie for every demo persona, made in this process against the
    same database and cache as the server (the login form has its own abuse limits)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.test import Client

    from accounts.models import User

    out = {}
    for persona, _ in MIX:
        if persona:
            client = Client()
            client.force_login(User.objects.get(username=persona))
            out[persona] = client.cookies["sessionid"].value
    return out


def counts() -> dict[str, int]:
    from devices.models import DeadLetter
    from storage_env.models import AlarmEvent, Reading

    return {
        "readings": Reading.objects.count(),
        "alarm_events": AlarmEvent.objects.count(),
        "dead_letters": DeadLetter.objects.count(),
    }


def rss(processes: dict[str, subprocess.Popen]) -> dict[str, float]:
    out = {}
    for name, process in processes.items():
        try:
            main = psutil.Process(process.pid)
            tree = [main, *main.children(recursive=True)]
            out[name] = sum(p.memory_info().rss for p in tree) / 2**20
        except psutil.NoSuchProcess:
            out[name] = float("nan")
    return out


def prepare_database(env: dict[str, str]) -> None:
    keep = os.environ.get("LOAD_KEEP_DB") == "1"
    if not seeded_database(DATABASE_URL, env, RECORDS, keep=keep):
        return
    subprocess.run(  # the simulator speaks for registered sensors: register LOAD_SENSORS
        [PYTHON, "manage.py", "shell", "--no-imports", "-c",
         f"from devices.demo import ensure_demo_sensors; ensure_demo_sensors({SENSORS}, "
         f"interval={int(INTERVAL)})"],
        cwd=ROOT, env=dict(env, DEBUG="true"), check=True,
    )  # fmt: skip


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    var = Path(tempfile.mkdtemp(prefix="lantai-load-"))
    (var / "prom").mkdir()
    env = production_env(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/10"),
        MQTT_URL=os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883"),
        MQTT_TOPIC_PREFIX=PREFIX,
        ELASTICSEARCH_URL=os.environ.get("LOAD_ELASTICSEARCH_URL", ""),
        LANTAI_VAR_DIR=str(var),
        MEDIA_ROOT=str(var / "media"),
        STATIC_ROOT=str(var / "static"),
        TRUSTED_PROXIES="127.0.0.1",
        X_ACCEL_REDIRECT_PREFIX="/_protected/",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        PROMETHEUS_MULTIPROC_DIR=str(var / "prom"),
        LOG_LEVEL="ERROR",
    )
    print(f"# preparing {DATABASE_URL} ({RECORDS} records) and static files", file=sys.stderr)
    prepare_database(env)
    collect = [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    app_port, front_port = free_port(), free_port()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    conf = plain_http_site(var, app_port, front_port, worker_connections=1024)
    logs = open(var / "processes.log", "w")  # noqa: SIM115 - closed at the end
    processes: dict[str, subprocess.Popen] = {
        "web": subprocess.Popen(
            [
                *SERVERS["uvicorn"](app_port),
                *("--workers", WEB_WORKERS, "--proxy-headers", "--no-server-header"),
                *("--forwarded-allow-ips", "127.0.0.1"),
            ],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),  # fmt: skip
        "nginx": subprocess.Popen([nginx, "-c", str(conf), "-p", str(var)], stderr=logs),
    }
    for command in WORKERS:
        processes[command] = subprocess.Popen(
            [PYTHON, "manage.py", command], cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT
        )
    processes["simulate_sensors"] = subprocess.Popen(
        [PYTHON, "manage.py", "simulate_sensors", "--sensors", str(SENSORS),
         "--interval", str(INTERVAL), "--excursion-rate", "0.02", "--max-excursions", "2",
         "--seed", "7"],
        cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{front_port}"
    try:
        wait_http(base + "/livez")
        cookies = sessions(env)
        people: list[str | None] = []
        for persona, share in MIX:
            people += [persona] * max(1, round(USERS * share))
        people = people[:USERS]
        warm_until = time.monotonic() + 20  # every process up and the first readings in
        while time.monotonic() < warm_until:
            time.sleep(1)
        before = counts()
        rss_start = rss(processes)
        stats = Stats()
        stop_at = time.monotonic() + SECONDS

        def scenarios() -> None:
            for name in ("leak", "door_open"):
                time.sleep(SECONDS / 3)
                subprocess.run(
                    [PYTHON, "manage.py", "simulate_sensors", "--scenario", name, "--trigger",
                     "--scenario-minutes", "1"],
                    cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, check=False,
                )  # fmt: skip

        series: list[tuple[float, dict[str, float]]] = []

        def sample_memory() -> None:
            """RSS of every process each LOAD_SAMPLE_EVERY seconds: flat, or still growing?"""
            every = float(os.environ.get("LOAD_SAMPLE_EVERY", "60"))
            while time.monotonic() < stop_at:
                time.sleep(min(every, max(0.0, stop_at - time.monotonic())))
                series.append((SECONDS - max(0.0, stop_at - time.monotonic()), rss(processes)))

        async def everyone() -> None:
            tasks = [
                user(p, base, cookies.get(p or ""), stats, stop_at, random.Random(i))
                for i, p in enumerate(people)
            ]
            tasks += [
                listener(f"ws://127.0.0.1:{front_port}", cookies[p], stats, stop_at)
                for p in people
                if p and p != "researcher"
            ]
            await asyncio.gather(
                asyncio.to_thread(scenarios), asyncio.to_thread(sample_memory), *tasks
            )

        print(
            f"# {len(people)} users for {SECONDS:.0f} s behind nginx; {SENSORS} sensors every "
            f"{INTERVAL:g} s; think time {THINK[0]:g}–{THINK[1]:g} s",
            file=sys.stderr,
        )
        started = time.monotonic()
        asyncio.run(everyone())
        elapsed = time.monotonic() - started
        after = counts()
        rss_end = rss(processes)
        died = [name for name, p in processes.items() if p.poll() is not None]
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()

    report("load_users", len(people), "users")
    report("load_seconds", elapsed, "s")
    report("load_requests", stats.requests, "requests")
    report("load_rate", stats.requests / elapsed, "req/s")
    report("load_errors", len(stats.errors), "errors")
    for line in sorted(set(stats.errors))[:15]:
        print(f"#   {line}", file=sys.stderr)
    for group in ("page", "download", "other"):
        if stats.group[group]:
            p50, p95 = percentiles(stats.group[group])
            report(f"load_{group}_count", len(stats.group[group]), "requests")
            report(f"load_{group}_p50", p50, "ms")
            report(f"load_{group}_p95", p95, "ms")
    busiest = sorted(stats.latency.items(), key=lambda kv: -len(kv[1]))
    for kind, values in busiest:
        if len(values) >= 20:
            p50, p95 = percentiles(values)
            print(f"kind {kind} n={len(values)} p50={p50:.0f}ms p95={p95:.0f}ms", flush=True)
    report("load_ws_messages", stats.ws_messages, "messages")
    report("load_ws_failures", len(stats.ws_failures), "sockets")
    for line in stats.ws_failures[:5]:
        print(f"#   {line}", file=sys.stderr)
    expected = SENSORS * elapsed / INTERVAL
    report("load_readings_expected", expected, "readings")
    report("load_readings_stored", after["readings"] - before["readings"], "readings")
    report("load_alarm_events", after["alarm_events"] - before["alarm_events"], "events")
    report("load_dead_letters", after["dead_letters"] - before["dead_letters"], "messages")
    for name in processes:
        report(f"load_rss_start_{name}", rss_start[name], "MiB")
        report(f"load_rss_end_{name}", rss_end[name], "MiB")
    for name in ("web", "mqtt_ingest", "evaluate_alarms"):
        points = " ".join(f"{at:.0f}s:{sample[name]:.0f}" for at, sample in series)
        print(f"rss_series {name} MiB {points}", flush=True)
    report("load_processes_died", len(died), "processes")
    if died:
        print(f"#   died: {', '.join(died)}; log: {var / 'processes.log'}", file=sys.stderr)
    if os.environ.get("LOAD_KEEP") != "1":
        shutil.rmtree(var, ignore_errors=True)
    else:
        print(f"# kept {var}", file=sys.stderr)


if __name__ == "__main__":
    main()
