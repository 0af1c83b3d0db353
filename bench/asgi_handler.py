"""The project's ASGI handler (``config.asgi.SyncChainASGIHandler``: middleware chain and view
in one worker thread) beside Django's stock ``ASGIHandler`` (async chain), in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_h15 \
    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/asgi_handler.py

Each handler is served by Uvicorn with production settings (``config.asgi:application``, or
this module's ``stock_application`` factory: the same project with Django's handler), and gets
BENCH_REQUESTS (300) sequential requests per URL: ``/healthz`` (the floor of
bench/catalogue_list.py: every middleware, a tiny view) and ``/jsi18n/`` (every middleware, the
zh-Hans JavaScript catalogue; no static files needed). The two servers take turns BENCH_ROUNDS
(3) times, so load from other processes falls on both; p50/p95 are over all rounds.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ROOT, ensure_database, free_port, production_env, report

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
URLS = ("/healthz", "/jsi18n/")


def stock_application():
    """The project with Django's own ``ASGIHandler`` for HTTP (uvicorn ``--factory``)."""
    from django.core.handlers.asgi import ASGIHandler

    import config.asgi  # noqa: F401 - django.setup() as the project does it

    return ASGIHandler()


APPS = {
    "sync_chain": ["config.asgi:application"],
    "django_stock": [
        "--factory",
        "--app-dir",
        "bench",
        f"asgi_handler:{stock_application.__name__}",
    ],
}


@contextmanager
def server(app: list[str]):
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env=production_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("uvicorn did not start in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def measure(url: str, path: str, times: list[float]) -> int:
    """Sequential GETs of ``path``; appends latencies (ms); returns the status seen."""
    status = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(10):
            client.get(path)  # warm-up
        for _ in range(REQUESTS):
            started = time.perf_counter()
            status = client.get(path).status_code
            times.append((time.perf_counter() - started) * 1000)
    return status


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100)[int(fraction * 100) - 1]


def main() -> None:
    ensure_database()
    times = {(name, path): [] for name in APPS for path in URLS}
    statuses = {}
    for _ in range(ROUNDS):
        for name, app in APPS.items():
            with server(app) as url:
                for path in URLS:
                    statuses[name, path] = measure(url, path, times[name, path])
    for (name, path), values in times.items():
        label = "healthz" if path == "/healthz" else "jsi18n"
        report(f"asgi_{name}_{label}_p50", statistics.median(values), "ms")
        report(f"asgi_{name}_{label}_p95", percentile(values, 0.95), "ms")
        report(f"asgi_{name}_{label}_status", statuses[name, path], "")


if __name__ == "__main__":
    main()
