"""Demo catalogue generation rate (``seed_demo``'s repository part) into an empty database,
beside a per-row ORM save of the same kind of records in the same run.

    .venv/bin/python bench/seed_demo_rate.py                       # SQLite, 20,000 records
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_repo_bench \
    BENCH_SEED_RECORDS=1000000 .venv/bin/python bench/seed_demo_rate.py

The database is a throw-away one: with a PostgreSQL DATABASE_URL, the database
``lantai_seed_bench`` on the same server is dropped and re-created; otherwise the SQLite file
var/bench/seed.sqlite3. Target (SPEC): 1 M records in ≤ 2 min on PostgreSQL.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, report  # noqa: E402

RECORDS = int(os.environ.get("BENCH_SEED_RECORDS", "20000"))
BASELINE = int(os.environ.get("BENCH_SEED_BASELINE", "2000"))


def fresh_database() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        base = url.rsplit("/", 1)[0]
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS lantai_seed_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE lantai_seed_bench")
        url = base + "/lantai_seed_bench"
    else:
        path = ROOT / "var" / "bench" / "seed.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    env = dict(os.environ, DATABASE_URL=url, DEBUG="true")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=env
    )
    os.environ.update(DATABASE_URL=url, DEBUG="true")
    return url


def main() -> None:
    url = fresh_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import transaction

    from accounts import demo as accounts_demo
    from repository import demo
    from repository.models import Category, Item

    accounts_demo.seed(records=0, out=io.StringIO())
    started = time.perf_counter()
    demo.seed(records=RECORDS, out=io.StringIO())
    elapsed = time.perf_counter() - started
    report("seed_demo_records", RECORDS, "records")
    report("seed_demo_seconds", elapsed, "s")
    report("seed_demo_rate", RECORDS / elapsed, "records/s")
    report("seed_demo_projected_1m", 1_000_000 / (RECORDS / elapsed), "s")

    # Baseline: one ORM save per record (same fields), rolled back.
    category = Category.objects.select_related("fonds").first()
    started = time.perf_counter()
    with transaction.atomic():
        for n in range(BASELINE):
            Item.objects.create(
                fonds=category.fonds,
                category=category,
                reference_code=f"BASELINE-{n:07d}",
                title="关于开展档案安全检查的通知",
                filing_year=2019,
                access_status="open",
            )
        transaction.set_rollback(True)
    baseline = BASELINE / (time.perf_counter() - started)
    report("seed_per_row_save_rate", baseline, "records/s")
    report("seed_demo_speedup", (RECORDS / elapsed) / baseline, "x")
    print(f"# database {url.split('@')[-1]}", flush=True)


if __name__ == "__main__":
    main()
