"""Shared set-up of the catalogue benchmarks (imported by bench/catalogue_*.py; running this
file alone seeds the bench database and prints nothing).

The bench database is DATABASE_URL (a SQLite file var/bench/catalogue.sqlite3 when unset); it
is migrated and seeded with the demo catalogue (accounts + repository) up to BENCH_RECORDS
(20,000 by default; BENCH_RECORDS=1000000 for the full figure on PostgreSQL).
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ensure_database  # noqa: E402

RECORDS = int(os.environ.get("BENCH_RECORDS", "20000"))


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    if not env.get("DATABASE_URL"):
        (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench' / 'catalogue.sqlite3'}"
    # Sessions made here must be valid in the production-settings server: same SECRET_KEY.
    from _harness import production_env

    env["SECRET_KEY"] = production_env()["SECRET_KEY"]
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "SECRET_KEY")})
    return env


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def ensure_seeded(records: int = RECORDS) -> None:
    """Accounts and repository demo data up to ``records`` (idempotent)."""
    from accounts import demo as accounts_demo
    from repository import demo

    accounts_demo.seed(records=0, out=io.StringIO())
    demo.seed(records=records, out=io.StringIO())


def prepare() -> dict[str, str]:
    env = environment()
    ensure_database(env)
    django_setup()
    ensure_seeded()
    return env


def server_env(env: dict[str, str]) -> dict[str, str]:
    """Production settings for the ASGI server, with static files collected (the manifest
    storage needs them) into a private directory."""
    from _harness import production_env

    static_root = os.environ.get("BENCH_STATIC_ROOT", "/tmp/lantai_catalogue_bench_static")
    prod = production_env(DATABASE_URL=env["DATABASE_URL"], STATIC_ROOT=static_root)
    # The vendored chart.umd.min.js names a source map that is not vendored: give the manifest
    # post-processing a stub (as bench/borrowing_desk.py does).
    stub = Path(static_root) / "vendor" / "chartjs" / "chart.umd.min.js.map"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text("{}")
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=prod,
        check=True,
    )
    return prod


def session_cookie(username: str) -> tuple[str, str]:
    """A signed-in session for ``username`` (the cookie name and value)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User

    user = User.objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return settings.SESSION_COOKIE_NAME, session.session_key


def timed(fn, repeat: int) -> tuple[float, float]:
    """(p50 ms, p95 ms) of ``fn()`` over ``repeat`` runs after a short warm-up."""
    for _ in range(min(5, repeat)):
        fn()
    latencies = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        latencies.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[94]


def http_timed(client, urls: list[str], repeat: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, non-200 count) cycling through ``urls``."""
    errors = 0

    def one(i=[0]):  # noqa: B006 - a counter
        nonlocal errors
        url = urls[i[0] % len(urls)]
        i[0] += 1
        response = client.get(url)
        if response.status_code != 200:
            errors += 1

    p50, p95 = timed(one, repeat)
    return p50, p95, errors


if __name__ == "__main__":
    prepare()
