"""Health endpoint latency under a loopback load, on Uvicorn and (baseline) Daphne.

    make bench            # or: .venv/bin/python bench/healthz.py

Production settings (DEBUG off); the database and channel layer are whatever DATABASE_URL /
REDIS_URL say (embedded defaults when unset). Requests and concurrency: BENCH_REQUESTS (2000),
BENCH_CONCURRENCY (16).
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from _harness import PYTHON, ROOT, asgi_server, load, production_env, report


def main() -> None:
    requests = int(os.environ.get("BENCH_REQUESTS", "2000"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "16"))
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as var_dir:
        # A migrated database of its own (SQLite in a temp dir unless DATABASE_URL is set).
        env = production_env(LANTAI_VAR_DIR=var_dir)
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        run(env, requests, concurrency)


def run(env: dict[str, str], requests: int, concurrency: int) -> None:
    for kind in ("uvicorn", "daphne"):
        with asgi_server(kind, env) as url:
            p50, p95, rps, errors = load(
                url + "/healthz", requests=requests, concurrency=concurrency
            )
        report(f"healthz_p50_{kind}", p50, "ms")
        report(f"healthz_p95_{kind}", p95, "ms")
        report(f"healthz_throughput_{kind}", rps, "req/s")
        if errors:
            report(f"healthz_errors_{kind}", errors, "responses")


if __name__ == "__main__":
    main()
