"""Backups (issue 18): seed → backup → wipe → restore → identical, with the real restic and
pg_dump; a tampered repository fails the drill; no secret ever enters a snapshot."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from core import backup
from tests.gates import missing, require_postgresql

SECRET = "s3cr3t-never-in-a-backup-7f2c"


@pytest.fixture
def restic(settings, tmp_path, monkeypatch):
    if shutil.which("restic") is None:
        missing("restic not installed (apt-get install restic)")
    password = tmp_path / "restic-password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    settings.BACKUP_REPOSITORY = str(tmp_path / "repo")
    settings.BACKUP_COPY_REPOSITORY = str(tmp_path / "offsite")
    settings.BACKUP_PASSWORD_FILE = str(password)
    settings.BACKUP_COPY_PASSWORD_FILE = ""
    settings.BACKUP_KEEP = "last=2"
    settings.BACKUP_VERIFY_READ_DATA = "100%"
    settings.BACKUP_WORK_DIR = tmp_path / "work"
    settings.BACKUP_CACHE_DIR = tmp_path / "cache"
    settings.MEDIA_ROOT = tmp_path / "media"
    # the configuration recorded in the manifest must leave these out
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.setenv("REDIS_URL", f"redis://user:{SECRET}@redis.example:6379/0")
    monkeypatch.setenv("LANTAI_VAR_DIR", "/srv/lantai")
    return tmp_path


def table_digests() -> dict[str, str]:
    """A digest of every table's whole content (rows sorted by their text form)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        names = [row[0] for row in cursor.fetchall()]
        digests = {}
        for name in names:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), '')) FROM \"{name}\" t"  # noqa: E501
            )
            digests[name] = "{}:{}".format(*cursor.fetchone())
    return digests


def media_digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def seed(media: Path) -> None:
    """Users of every role, fonds, shelves, records and access requests (the demo's, without
    its weeks of sensor readings), and two scans on disk."""
    from accounts import demo as accounts_demo
    from borrowing import demo as borrowing_demo
    from repository import demo as repository_demo

    out = io.StringIO()
    for module in (accounts_demo, repository_demo, borrowing_demo):
        module.seed(records=20, out=out)
    for name, size in [
        ("repository/originals/v1/p1.tif", 70_000),
        ("repository/web/v1/p1.jpg", 900),
    ]:
        path = media / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(name.encode()).digest() * (size // 32))


def test_seed_backup_wipe_restore_is_identical_and_a_tampered_repository_fails_the_drill(
    transactional_db, restic, capsys
):
    require_postgresql()
    media = Path(restic / "media")
    seed(media)
    before, files_before = table_digests(), media_digests(media)
    assert sum(int(value.split(":")[0]) for value in before.values()) > 100

    call_command("backup", init=True)
    out = capsys.readouterr().out
    assert "snapshot" in out and "copied to" in out
    repository = backup.configured_repository()
    assert len(repository.snapshots()) == 1
    offsite = backup.copy_repository()
    assert offsite is not None and len(offsite.snapshots()) == 1  # 异地: the copy is there

    # no secret in the snapshot: the manifest's configuration drops them
    staging = backup.staging_dir()
    manifest = json.loads(repository.run("dump", "latest", f"{staging}/manifest.json").stdout)
    assert SECRET not in json.dumps(manifest)
    assert "SECRET_KEY" not in manifest["config"]
    assert manifest["config"]["REDIS_URL"] == "redis://user@redis.example:6379/0"
    assert manifest["config"]["LANTAI_VAR_DIR"] == "/srv/lantai"

    call_command("backup", verify=True)
    assert "match" in capsys.readouterr().out
    # the drill's scratch database is gone again
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", ["%_drill_%"])
        assert cursor.fetchone()[0] == 0

    # a restore refuses a database that is not empty
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore")

    # wipe: the database's schema and the media directory are gone
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    shutil.rmtree(media)
    connection.close()

    call_command("restore")
    assert "all checked" in capsys.readouterr().out
    assert table_digests() == before
    assert media_digests(media) == files_before

    # tamper with one byte of the repository's data: the drill must fail
    packs = sorted((restic / "repo" / "data").rglob("*"), key=lambda p: p.stat().st_size)
    pack = [p for p in packs if p.is_file()][-1]
    pack.chmod(0o600)
    with pack.open("r+b") as handle:
        handle.seek(pack.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CommandError):
        call_command("backup", verify=True)


def test_the_drill_fails_when_a_restored_file_differs_from_its_checksum(tmp_path):
    root = tmp_path / "media"
    (root / "a").mkdir(parents=True)
    (root / "a" / "scan.tif").write_bytes(b"original scan")
    manifest = {"media": {"root": str(root), "files": backup.checksum_media(root)}}
    restored = backup.Restored("x", manifest, tmp_path)
    assert backup.compare_media(restored, root) == []
    (root / "a" / "scan.tif").write_bytes(b"original scaN")
    (root / "extra.bin").write_bytes(b"x")
    assert backup.compare_media(restored, root) == [
        "file a/scan.tif differs from its checksum",
        "unexpected file extra.bin",
    ]


def test_sqlite_is_copied_online_while_a_writer_holds_it_open(tmp_path):
    path = tmp_path / "live.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE reading (id INTEGER PRIMARY KEY, value REAL)")
        db.executemany("INSERT INTO reading (value) VALUES (?)", [(i,) for i in range(500)])
        db.commit()
        db.execute("INSERT INTO reading (value) VALUES (1)")  # uncommitted: not in the copy
        staging = tmp_path / "staging"
        staging.mkdir()
        dumped = backup.dump_database(backup.Database.from_url(f"sqlite:///{path}"), staging)
    assert dumped["tables"] == {"reading": 500}
    copy = backup.Database.from_url(f"sqlite:///{staging / dumped['file']}")
    assert backup.table_counts(copy) == {"reading": 500}


def test_a_password_file_others_can_read_is_refused(restic, settings):
    Path(settings.BACKUP_PASSWORD_FILE).chmod(0o644)
    with pytest.raises(CommandError, match="chmod 600"):
        call_command("backup")


def test_retention_policy_is_checked():
    assert backup.retention_arguments("daily=7, weekly=5") == [
        "--keep-daily",
        "7",
        "--keep-weekly",
        "5",
    ]
    with pytest.raises(backup.BackupError, match="unknown period"):
        backup.retention_arguments("fortnightly=2")
    with pytest.raises(backup.BackupError, match="positive"):
        backup.retention_arguments("daily=0")


def test_configuration_without_secrets():
    kept = backup.config_without_secrets(
        {
            "SECRET_KEY": "x",
            "SECRET_KEY_FILE": "/run/secrets/lantai",
            "EMAIL_HOST_PASSWORD": "x",
            "ELASTICSEARCH_API_KEY": "x",
            "SENTRY_DSN": "https://key@sentry.example/1",
            "DATABASE_URL": "postgres://lantai:pw@db.example/lantai",
            "BACKUP_REPOSITORY": "rest:https://backup:pw@store.example/lantai",
            "HOME": "/root",
            "TIME_ZONE": "Asia/Shanghai",
        }
    )
    assert kept == {
        "BACKUP_REPOSITORY": "rest:https://backup@store.example/lantai",
        "DATABASE_URL": "postgres://lantai@db.example/lantai",
        "SECRET_KEY_FILE": "/run/secrets/lantai",
        "TIME_ZONE": "Asia/Shanghai",
    }
