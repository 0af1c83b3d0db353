"""Shared helpers for benchmarks: start an ASGI server, load it over loopback, report figures.

Each figure is printed as one line: ``name value unit``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def ensure_database(env: dict[str, str] | None = None) -> None:
    """Create the bench database named by ``DATABASE_URL`` (in ``env``, else the process
    environment) when it is missing on PostgreSQL, and migrate it."""
    env = dict(env if env is not None else os.environ)
    env.setdefault("DEBUG", "true")
    url = env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=env
    )


def seeded_database(url: str, env: dict[str, str], records: int, *, keep: bool) -> bool:
    """A throw-away PostgreSQL database at ``url`` holding ``seed_demo --records N``: dropped,
    re-created, migrated and seeded, unless ``keep`` and it exists. True when it was (re)made."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and keep:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    seed_env = dict(env, DATABASE_URL=url, DEBUG="true")
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=seed_env, check=True)
    seed = [PYTHON, "manage.py", "seed_demo", "--records", str(records)]
    subprocess.run(seed, cwd=ROOT, env=seed_env, check=True, stdout=subprocess.DEVNULL)
    return True


def report(name: str, value: float, unit: str) -> None:
    print(f"{name} {value:.2f} {unit}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 120) -> None:
    """Wait until ``url`` answers below 500 (a server starting up); SystemExit after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {seconds} s")


def production_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


SERVERS = {
    "uvicorn": lambda port: [
        PYTHON,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "daphne": lambda port: [
        PYTHON,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "config.asgi:application",
    ],
}


@contextmanager
def asgi_server(kind: str, env: dict[str, str]):
    port = free_port()
    proc = subprocess.Popen(
        SERVERS[kind](port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{kind} did not start in 30 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _load(url: str, requests: int, concurrency: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed, errors


def load(url: str, *, requests: int, concurrency: int, warmup: int = 50):
    """Returns (p50 ms, p95 ms, requests per second, errors)."""
    asyncio.run(_load(url, warmup, min(concurrency, warmup)))
    latencies, elapsed, errors = asyncio.run(_load(url, requests, concurrency))
    quantiles = statistics.quantiles(latencies, n=100)
    return quantiles[49], quantiles[94], requests / elapsed, errors
