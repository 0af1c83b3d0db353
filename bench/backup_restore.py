"""Backup, incremental backup and restore at scale: ``manage.py backup`` / ``restore`` /
``backup --verify`` with restic on a PostgreSQL catalogue of ``BENCH_BACKUP_RECORDS`` records.

    BENCH_BACKUP_RECORDS=1000000 .venv/bin/python bench/backup_restore.py

Seeds the database ``lantai_backup_bench`` (dropped and re-made unless ``BENCH_KEEP_DB=1``) with
``seed_demo`` and ``BENCH_BACKUP_FILES`` (200) scan files of 256 KiB of random bytes in a scratch
media directory, then, with a restic repository in a scratch directory:

1. a first, full backup (time; repository size);
2. ``BENCH_BACKUP_EDITS`` (1,000) edits of catalogue records through the service layer (each
   audited, each queued for the search index, as a person's edit would be), then a second
   backup: its time and what it added to the repository (restic deduplicates: only changed
   blocks of the dump are stored);
3. a restore of the latest snapshot into an empty database and media directory (time; the
   restore compares rows per table and every file's checksum with the manifest);
4. ``backup --verify`` (repository check and a restore drill into a scratch database).

Needs PostgreSQL (pg_dump/pg_restore of the server's major version) and Debian's restic.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, report, seeded_database  # noqa: E402

RECORDS = int(os.environ.get("BENCH_BACKUP_RECORDS", "20000"))
FILES = int(os.environ.get("BENCH_BACKUP_FILES", "200"))
EDITS = int(os.environ.get("BENCH_BACKUP_EDITS", "1000"))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
NAME, TARGET = "lantai_backup_bench", "lantai_restore_bench"


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def recreate(conn, name: str) -> None:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{name}"')


def timed(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    last = (done.stdout.strip().splitlines() or [""])[-1]
    print(f"# manage.py {' '.join(args)}: {last}", file=sys.stderr)
    return seconds, last


def new_bytes(line: str) -> float:
    """restic's own count of what a snapshot added (before compression), in MiB."""
    found = re.search(r"(\d+) new bytes", line)
    return int(found.group(1)) / 2**20 if found else float("nan")


EDIT_SCRIPT = """
import random
from accounts.models import User
from repository.models import Item
from repository.services import records
user = User.objects.get(username="admin")  # cleared for every 密级
rng = random.Random(18)
top = Item.objects.order_by("-pk").values_list("pk", flat=True).first()
done = 0
while done < {edits}:
    item = Item.objects.filter(pk=rng.randint(1, top)).first()
    if item is None:
        continue
    records.update_record(item, {{"notes": f"核对 {{done}}"}}, acting_user=user)
    done += 1
print(done, "edits")
"""


def main() -> None:
    import psycopg

    work = Path(tempfile.mkdtemp(prefix="lantai-backup-bench-"))
    media = work / "media"
    (media / "scans").mkdir(parents=True)
    password = work / "password"
    password.write_text("bench-only-password\n")
    os.chmod(password, 0o600)
    repository = work / "restic"
    env = dict(
        os.environ,
        DEBUG="true",
        DATABASE_URL=f"{SERVER}/{NAME}",
        ELASTICSEARCH_URL="",
        MEDIA_ROOT=str(media),
        LANTAI_VAR_DIR=str(work / "var"),
        BACKUP_REPOSITORY=str(repository),
        BACKUP_PASSWORD_FILE=str(password),
        BACKUP_COPY_REPOSITORY="",
    )
    try:
        seeded_database(
            f"{SERVER}/{NAME}", env, RECORDS, keep=os.environ.get("BENCH_KEEP_DB") == "1"
        )
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            recreate(conn, TARGET)
        for index in range(FILES):
            (media / "scans" / f"scan-{index:05d}.bin").write_bytes(os.urandom(256 * 1024))
        with psycopg.connect(f"{SERVER}/{NAME}") as conn:
            db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        report("backup_records", RECORDS, "records")
        report("backup_database_size", db_bytes / 2**20, "MiB")
        report("backup_media_size", size(media) / 2**20, "MiB")

        # --no-prune: the retention policy would forget the first snapshot of the day, and the
        # repository's growth would no longer be the incremental backup's size
        seconds, line = timed(env, "backup", "--init", "--no-copy", "--no-prune")
        report("backup_full_seconds", seconds, "s")
        report("backup_full_new_data", new_bytes(line), "MiB")
        full = size(repository)
        report("backup_repository_after_full", full / 2**20, "MiB")

        started = time.perf_counter()
        subprocess.run(
            [PYTHON, "manage.py", "shell", "--no-imports", "-c", EDIT_SCRIPT.format(edits=EDITS)],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        report("backup_edits", EDITS, "edits")
        report("backup_edits_seconds", time.perf_counter() - started, "s")
        seconds, line = timed(env, "backup", "--no-copy", "--no-prune")
        report("backup_incremental_seconds", seconds, "s")
        report("backup_incremental_new_data", new_bytes(line), "MiB")
        report("backup_incremental_added", (size(repository) - full) / 2**20, "MiB")

        restored = work / "restored-media"
        seconds, _ = timed(
            env, "restore", "--database-url", f"{SERVER}/{TARGET}", "--media-root", str(restored)
        )
        report("backup_restore_seconds", seconds, "s")
        report("backup_verify_seconds", timed(env, "backup", "--verify")[0], "s")
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TARGET}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
