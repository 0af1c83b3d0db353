"""Abuse controls across server processes: the outside probe's figures, and what a throttle
check costs in each cache.

    .venv/bin/python bench/abuse_controls.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_abuse_bench \\
        REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/abuse_controls.py

Against ``uvicorn --workers 2`` (production settings, no trusted proxy, uvicorn told the same),
per shared cache (the database; Redis when REDIS_URL is set), with hourly limits so that the
counts do not depend on speed: anonymous calls that pass out of 150 against 60 (same address),
out of 80 with a new X-Forwarded-For each, token attempts that pass out of 30 against 10 (new
X-Forwarded-For each), and whether the right password is taken after 8 wrong ones. Then, in
process, the time of one throttle check (DRF's get + set) in each cache, LocMem for scale.

The bench database is DATABASE_URL (a SQLite file var/bench/abuse.sqlite3 when unset).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ensure_database, free_port, production_env, report  # noqa: E402

USERNAME, PASSWORD = "bench-abuse", "bench-abuse-pass-2026"


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench' / 'abuse.sqlite3'}"
    return env


def manage_shell(env: dict[str, str], code: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={**env, "DEBUG": "true"},
        check=True,
        capture_output=True,
    )


def reset(env: dict[str, str]) -> None:
    """A fresh user, no lock-outs, empty throttle counters."""
    manage_shell(
        env,
        "from django.core.cache import cache; from axes.models import AccessAttempt; "
        "from accounts.models import User; cache.clear(); AccessAttempt.objects.all().delete(); "
        f"User.objects.filter(username={USERNAME!r}).delete(); "
        f"User.objects.create_user(username={USERNAME!r}, password={PASSWORD!r})",
    )


def two_workers(env: dict[str, str]):
    port = free_port()
    command = [
        PYTHON,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
        "--proxy-headers",
        "--forwarded-allow-ips",
        env.get("TRUSTED_PROXIES", ""),
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("uvicorn did not start in 60 s")


def probe(url: str, env: dict[str, str], label: str) -> None:
    items, token = url + "/api/v1/items/", url + "/api/v1/auth/token/"
    # A new connection per call: uvicorn's workers share the socket, the kernel spreads them.
    passed = sum(httpx.get(items).status_code == 200 for _ in range(150))
    report(f"{label}_anon_passed_of_150_limit_60", passed, "calls")
    reset(env)
    passed = sum(
        httpx.get(items, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code == 200
        for i in range(80)
    )
    report(f"{label}_anon_rotating_xff_passed_of_80_limit_60", passed, "calls")
    reset(env)
    codes = []
    for i in range(9):
        password = PASSWORD if i == 8 else "wrong"
        response = httpx.post(
            token,
            data={"username": USERNAME, "password": password},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        )
        codes.append(response.status_code)
    report(f"{label}_right_password_taken_after_8_wrong", int("token" in response.text), "")
    for i in range(21):
        codes.append(
            httpx.post(
                token,
                data={"username": USERNAME, "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{100 + i}"},
            ).status_code
        )
    report(f"{label}_token_attempts_passed_of_30_limit_10", sum(c != 429 for c in codes), "")


def throttle_check_cost(caches_to_time: dict[str, dict]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.cache import caches
    from django.test import RequestFactory
    from django.test.utils import override_settings

    from core.throttling import UserRateThrottle

    class Member:
        pk = 1
        is_authenticated = True

    request = RequestFactory().get("/")
    request.user = Member()
    for label, config in caches_to_time.items():
        with override_settings(CACHES={"default": config, "local": config}):
            cache = caches["default"]
            cache.clear()
            timings = []
            for _ in range(500):
                throttle = UserRateThrottle()
                throttle.rate = "1000000/hour"
                throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
                started = time.perf_counter()
                assert throttle.allow_request(request, None)
                timings.append((time.perf_counter() - started) * 1000)
            report(f"throttle_check_{label}_p50", statistics.median(timings), "ms")
            cache.clear()


def main() -> None:
    env = base_env()
    ensure_database(env)
    redis_url = env.get("REDIS_URL", "")
    server_base = production_env(
        DATABASE_URL=env["DATABASE_URL"],
        API_THROTTLE_ANON="60/hour",
        API_THROTTLE_LOGIN="10/hour",
        TRUSTED_PROXIES="",
        DATABASE_POOL_SIZE="0",
    )
    modes = {"database": {k: v for k, v in server_base.items() if "REDIS_URL" not in k}}
    if redis_url:
        modes["redis"] = {**modes["database"], "REDIS_URL": redis_url}
    for label, server_env in modes.items():
        reset(server_env)
        proc, url = two_workers(server_env)
        try:
            probe(url, server_env, label)
        finally:
            proc.terminate()
            proc.wait(15)

    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ.setdefault("DEBUG", "true")
    timed = {
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "core_cache",
        },
    }
    if redis_url:
        timed["redis"] = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "lantai-bench",
        }
    throttle_check_cost(timed)


if __name__ == "__main__":
    main()
