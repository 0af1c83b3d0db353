"""Encrypted, deduplicated, verified backups with restic (``manage.py backup`` / ``restore``).

A backup is one restic snapshot of two paths: a staging directory holding a consistent dump of
the database and a manifest, and the media directory (uploaded scans and their derivatives).

- **Database**: PostgreSQL with ``pg_dump`` in custom format, uncompressed (restic compresses
  and deduplicates unchanged tables between snapshots), taken from a snapshot exported by a
  repeatable-read transaction in which the row counts of the manifest are read too, so dump
  and counts agree exactly; SQLite with its online backup API (a consistent copy while the
  workers keep writing).
- **Manifest** (``manifest.json``): format, Lantai version, time, host, rows per table, every
  media file with its size and SHA-256, and the configuration *without secrets* (names that
  look secret are left out, passwords are cut out of URLs).
- **Repository**: restic (AES-256 + Poly1305, content-addressed, deduplicated): a local path,
  ``sftp:``, ``s3:`` (S3-compatible, credentials from ``AWS_*``) or ``rest:``; the password comes
  from a file only (``BACKUP_PASSWORD_FILE``). Retention (``BACKUP_KEEP``) is applied after each
  backup, and a second repository (``BACKUP_COPY_REPOSITORY``) receives a copy: 档案法 第三十九条
  (重要电子档案异地备份), 中办发〔2014〕15号 (重要电子档案异地异质备份保管).
- **Verify**: ``restic check`` (a share of the data read back), then a restore drill into a
  scratch database and directory: rows per table and every file's checksum must equal the
  manifest, or the drill fails (档案法实施条例 第四十一条: 定期检测数据的可读性).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
from django.conf import settings
from django.db import connection

MANIFEST_FORMAT = 1
STAGING_NAME = "lantai-backup"  # the staging directory's name inside every snapshot
TAG = "lantai"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY$|^KEY|DSN|CREDENTIAL", re.I)
# Environment variables recorded in the manifest: Lantai's and Django's settings by name.
CONFIG_PREFIXES = (
    "LANTAI_",
    "DATABASE_",
    "REDIS_",
    "CACHE_",
    "MQTT_",
    "ELASTICSEARCH_",
    "EMAIL_",
    "BACKUP_",
    "SEARCH_",
    "SECURE_",
    "API_THROTTLE_",
    "LOGIN_",
    "IMPORT_",
    "METRICS_",
    "LOG_",
)


class BackupError(Exception):
    """A backup, restore or drill that did not succeed; the message says what and why."""


def lantai_version() -> str:
    try:
        return metadata.version("lantai")
    except metadata.PackageNotFoundError:  # a checkout that was never installed
        return "unknown"


# --- restic -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """One restic repository and the file holding its password."""

    location: str
    password_file: str

    def env(self) -> dict[str, str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            # the password comes from our file only, the repository from our setting only
            if name not in {"RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY"}
        }
        environment["RESTIC_PASSWORD_FILE"] = self.password_file
        environment["RESTIC_REPOSITORY"] = self.location
        environment.setdefault("RESTIC_CACHE_DIR", str(settings.BACKUP_CACHE_DIR))
        return environment

    def run(
        self, *args: str, json_out: bool = False, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [settings.BACKUP_RESTIC, *args] + (["--json"] if json_out else [])
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, no shell
                command,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackupError(
                f"restic not found ({settings.BACKUP_RESTIC}): install Debian's package restic"
            ) from exc
        if done.returncode != 0:
            raise BackupError(
                f"restic {args[0]} failed on {self.location} (exit {done.returncode}): "
                f"{done.stderr.strip()[-800:]}"
            )
        return done

    def exists(self) -> bool:
        try:
            self.run("cat", "config")
        except BackupError:
            return False
        return True

    def init(self, *, copy_from: Repository | None = None) -> None:
        if copy_from is None:
            self.run("init")
        else:  # the same chunker parameters keep the copy deduplicated
            self.run(
                "init",
                "--from-repo",
                copy_from.location,
                "--from-password-file",
                copy_from.password_file,
                "--copy-chunker-params",
            )

    def snapshots(self) -> list[dict[str, Any]]:
        return json.loads(self.run("snapshots", "--tag", TAG, json_out=True).stdout or "[]")


def configured_repository() -> Repository:
    if not settings.BACKUP_REPOSITORY:
        raise BackupError("BACKUP_REPOSITORY is not set (a path, sftp:…, s3:… or rest:…)")
    return _repository(settings.BACKUP_REPOSITORY, settings.BACKUP_PASSWORD_FILE)


def copy_repository() -> Repository | None:
    if not settings.BACKUP_COPY_REPOSITORY:
        return None
    return _repository(
        settings.BACKUP_COPY_REPOSITORY,
        settings.BACKUP_COPY_PASSWORD_FILE or settings.BACKUP_PASSWORD_FILE,
    )


def _repository(location: str, password_file: str) -> Repository:
    if not password_file:
        raise BackupError(f"no password file for {location}: set BACKUP_PASSWORD_FILE")
    path = Path(password_file)
    if not path.is_file():
        raise BackupError(f"the password file {path} does not exist")
    if path.stat().st_mode & 0o077:
        raise BackupError(f"the password file {path} is readable by others: chmod 600 it")
    return Repository(location, str(path))


# --- what goes in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """A database to dump, count or restore into (Django's ``DATABASES`` entry form)."""

    config: dict[str, Any]

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(dict(dj_database_url.parse(url)))

    @property
    def vendor(self) -> str:
        engine = self.config["ENGINE"]
        if engine.endswith("sqlite3"):
            return "sqlite"
        if "postgresql" in engine:
            return "postgresql"
        raise BackupError(f"backups support PostgreSQL and SQLite, not {engine}")

    @property
    def name(self) -> str:
        return str(self.config["NAME"])

    def renamed(self, name: str) -> Database:
        return Database({**self.config, "NAME": name})

    def conninfo(self, dbname: str | None = None) -> str:
        parts = {
            "dbname": dbname or self.name,
            "user": self.config.get("USER") or "",
            "password": self.config.get("PASSWORD") or "",
            "host": self.config.get("HOST") or "",
            "port": str(self.config.get("PORT") or ""),
        }
        return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})

    def libpq_env(self) -> dict[str, str]:
        """Connection settings for pg_dump/pg_restore as libpq variables (no password on the
        command line, where other users could read it)."""
        environment = dict(os.environ)
        for name, key in [
            ("PGHOST", "HOST"),
            ("PGPORT", "PORT"),
            ("PGUSER", "USER"),
            ("PGPASSWORD", "PASSWORD"),
        ]:
            if self.config.get(key):
                environment[name] = str(self.config[key])
        return environment


def current_database() -> Database:
    """The database Django is connected to (under the tests: the test database)."""
    return Database(dict(connection.settings_dict))


def _sqlite_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    counts = {}
    for name in names:
        try:
            counts[name] = db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        except sqlite3.DatabaseError:  # a virtual table whose module is not loaded here
            continue
    return counts


def _postgres_counts(cursor: psycopg.Cursor) -> dict[str, int]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    names = [row[0] for row in cursor.fetchall()]
    counts = {}
    for name in names:
        cursor.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(name))
        )
        counts[name] = _one(cursor)
    return counts


def _one(cursor: psycopg.Cursor) -> Any:
    row = cursor.fetchone()
    if row is None:
        raise BackupError("the database answered nothing")
    return row[0]


def table_counts(database: Database) -> dict[str, int]:
    """Rows in every table of a database (not the one Django is connected to, necessarily)."""
    if database.vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(database.name)) as lite:
            return _sqlite_counts(lite)
    with psycopg.connect(database.conninfo()) as pg, pg.cursor() as cursor:
        return _postgres_counts(cursor)


def dump_database(database: Database, staging: Path) -> dict[str, Any]:
    """A consistent dump into ``staging`` and the rows per table it holds."""
    if database.vendor == "sqlite":
        target = staging / "database.sqlite3"
        with (
            contextlib.closing(sqlite3.connect(database.name)) as source,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
            counts = _sqlite_counts(copy)
        return {"vendor": "sqlite", "file": target.name, "tables": counts}
    target = staging / "database.pgdump"
    # The row counts and pg_dump read the same exported snapshot: they agree exactly although
    # the workers keep writing.
    with psycopg.connect(database.conninfo()) as db:
        db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        db.read_only = True
        cursor = db.cursor()
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = _one(cursor)
        counts = _postgres_counts(cursor)
        done = subprocess.run(  # noqa: S603 - an argument list, no shell
            [
                settings.BACKUP_PG_DUMP,
                "--format=custom",
                "--compress=0",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                database.name,
            ],
            env=database.libpq_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        db.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-800:]}")
    return {"vendor": "postgresql", "file": target.name, "tables": counts}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def media_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def checksum_media(root: Path, cache_file: Path | None = None) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file under ``root``; a file whose size and modification time
    match the cache of the previous backup is not read again (scans never change in place)."""
    cache: dict[str, dict[str, Any]] = {}
    if cache_file and cache_file.is_file():
        with contextlib.suppress(ValueError):
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
    files = {}
    for path in media_files(root):
        name = path.relative_to(root).as_posix()
        stat = path.stat()
        known = cache.get(name)
        if known and known["size"] == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
            files[name] = known
        else:
            files[name] = {
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "sha256": _sha256(path),
            }
    if cache_file:
        cache_file.write_text(json.dumps(files), encoding="utf-8")
    return files


URL_PASSWORD = re.compile(r"(://[^/:@\s]*):[^@/\s]*@")


def strip_credentials(value: str) -> str:
    """``scheme://user:password@host/…`` → ``scheme://user@host/…`` (also inside ``rest:…``)."""
    return URL_PASSWORD.sub(r"\1@", value)


def config_without_secrets(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The configuration to restore the service with: Lantai's and Django's settings from the
    environment, never a secret (by name), never a password inside a URL. ``*_FILE`` names
    (paths to secrets) are kept: the path is not the secret."""
    environ = dict(os.environ if environ is None else environ)
    kept = {}
    for name, value in sorted(environ.items()):
        if not (name.startswith(CONFIG_PREFIXES) or hasattr(settings, name.removesuffix("_FILE"))):
            continue
        if SECRET_NAME.search(name) and not name.endswith("_FILE"):
            continue
        kept[name] = strip_credentials(value)
    return kept


# --- backup ---------------------------------------------------------------------------------------


@dataclass
class BackupResult:
    snapshot: str
    seconds: float
    tables: int
    rows: int
    files: int
    bytes_added: int
    copied_to: str = ""
    forgotten: int = 0


def work_dir() -> Path:
    """Where dumps are staged and snapshots restored for a while (never the media directory)."""
    path = Path(settings.BACKUP_WORK_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def staging_dir() -> Path:
    return work_dir() / STAGING_NAME


def make_backup(*, init: bool = False, copy: bool = True, prune: bool = True) -> BackupResult:
    started = time.monotonic()
    repository = configured_repository()
    second = copy_repository() if copy else None
    if not repository.exists():
        if not init:
            raise BackupError(
                f"no restic repository at {repository.location}: run backup --init once"
            )
        repository.init()
    staging = staging_dir()
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, mode=0o700)
    media_root = Path(settings.MEDIA_ROOT)
    try:
        database = dump_database(current_database(), staging)
        files = checksum_media(media_root, work_dir() / "checksums.json")
        manifest = {
            "format": MANIFEST_FORMAT,
            "lantai_version": lantai_version(),
            "created": dt.datetime.now(dt.UTC).isoformat(),
            "host": socket.gethostname(),
            "database": database,
            "media": {"root": str(media_root), "files": files},
            "config": config_without_secrets(),
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        paths = [str(staging)] + ([str(media_root)] if media_root.is_dir() else [])
        done = repository.run(
            "backup", "--tag", TAG, "--host", socket.gethostname(), *paths, json_out=True
        )
    finally:
        # the dump is in the repository (or the backup failed): no plain copy stays behind
        shutil.rmtree(staging, ignore_errors=True)
    summary: dict[str, Any] = next(
        (
            json.loads(line)
            for line in done.stdout.splitlines()
            if line.startswith("{") and '"summary"' in line
        ),
        {},
    )
    result = BackupResult(
        snapshot=summary.get("snapshot_id", "")[:8],
        seconds=0.0,
        tables=len(database["tables"]),
        rows=sum(database["tables"].values()),
        files=len(files),
        bytes_added=int(summary.get("data_added", 0)),
    )
    if prune and settings.BACKUP_KEEP:
        result.forgotten = apply_retention(repository)
    if second is not None:
        if not second.exists():
            if not init:
                raise BackupError(f"no restic repository at {second.location}: backup --init")
            second.init(copy_from=repository)
        second.run(
            "copy",
            "--from-repo",
            repository.location,
            "--from-password-file",
            repository.password_file,
            "--tag",
            TAG,
        )
        if prune and settings.BACKUP_KEEP:
            apply_retention(second)
        result.copied_to = second.location
    result.seconds = round(time.monotonic() - started, 2)
    return result


def retention_arguments(policy: str) -> list[str]:
    """``daily=7,weekly=5,monthly=12`` → ``--keep-daily 7 --keep-weekly 5 --keep-monthly 12``."""
    arguments = []
    for part in filter(None, (piece.strip() for piece in policy.split(","))):
        kind, _, count = part.partition("=")
        if kind not in {"last", "hourly", "daily", "weekly", "monthly", "yearly"}:
            raise BackupError(f"BACKUP_KEEP: unknown period {kind!r} (daily, weekly, monthly…)")
        if not count.isdigit() or int(count) < 1:
            raise BackupError(f"BACKUP_KEEP: {part!r} needs a positive count")
        arguments += [f"--keep-{kind}", count]
    return arguments


def apply_retention(repository: Repository) -> int:
    done = repository.run(
        "forget",
        "--tag",
        TAG,
        "--group-by",
        "host,tags",
        *retention_arguments(settings.BACKUP_KEEP),
        "--prune",
        json_out=True,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("[")), "[]")
    return sum(len(group.get("remove") or []) for group in json.loads(line))


# --- restore --------------------------------------------------------------------------------------


@dataclass
class Restored:
    snapshot: str
    manifest: dict[str, Any]
    tree: Path  # where the snapshot was restored (a temporary directory)

    @property
    def staging(self) -> Path:
        found = list(self.tree.rglob(f"{STAGING_NAME}/manifest.json"))
        if len(found) != 1:
            raise BackupError("the snapshot holds no Lantai manifest")
        return found[0].parent

    @property
    def media(self) -> Path:
        return self.tree / self.manifest["media"]["root"].lstrip("/")


@contextlib.contextmanager
def restored_snapshot(repository: Repository, snapshot: str = "latest") -> Iterator[Restored]:
    """Restore a snapshot into a temporary directory (removed afterwards)."""
    if snapshot == "latest":
        snapshots = repository.snapshots()
        if not snapshots:
            raise BackupError(f"the repository {repository.location} has no Lantai snapshot")
        snapshot = max(snapshots, key=lambda found: found["time"])["short_id"]
    tree = Path(tempfile.mkdtemp(prefix="lantai-restore-", dir=work_dir()))
    try:
        repository.run("restore", snapshot, "--target", str(tree))
        manifests = list(tree.rglob(f"{STAGING_NAME}/manifest.json"))
        if len(manifests) != 1:
            raise BackupError(f"snapshot {snapshot} holds no Lantai manifest")
        manifest = json.loads(manifests[0].read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise BackupError(f"unknown manifest format {manifest.get('format')}")
        yield Restored(snapshot, manifest, tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def compare_media(restored: Restored, root: Path) -> list[str]:
    """Differences between the manifest's files and the files under ``root``."""
    expected = restored.manifest["media"]["files"]
    problems = []
    present = {path.relative_to(root).as_posix(): path for path in media_files(root)}
    for name, entry in expected.items():
        path = present.get(name)
        if path is None:
            problems.append(f"missing file {name}")
        elif path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            problems.append(f"file {name} differs from its checksum")
    problems += [f"unexpected file {name}" for name in sorted(set(present) - set(expected))]
    return problems


def compare_counts(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(found)):
        if expected.get(table) != found.get(table):
            problems.append(
                f"table {table}: {found.get(table, 'missing')} rows, "
                f"the backup has {expected.get(table, 'none')}"
            )
    return problems


def _database_is_empty(database: Database) -> bool:
    if database.vendor == "sqlite":
        path = Path(database.name)
        return not path.exists() or not table_counts(database)
    try:
        with psycopg.connect(database.conninfo()) as db, db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
            return _one(cursor) == 0
    except psycopg.OperationalError:
        return True  # it does not exist yet: created below


def _create_postgres_database(database: Database) -> None:
    with psycopg.connect(database.conninfo("postgres"), autocommit=True) as db:
        exists = db.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database.name]
        ).fetchone()
        if not exists:
            db.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database.name))
            )


def drop_postgres_database(database: Database) -> None:
    with psycopg.connect(database.conninfo("postgres"), autocommit=True) as db:
        db.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(database.name)
            )
        )


def load_database(restored: Restored, database: Database) -> None:
    """Load the snapshot's dump into an empty database (created when it does not exist)."""
    dump = restored.staging / restored.manifest["database"]["file"]
    source_vendor = restored.manifest["database"]["vendor"]
    if source_vendor != database.vendor:
        raise BackupError(
            f"the snapshot holds a {source_vendor} database; the target is {database.vendor}"
        )
    if not _database_is_empty(database):
        raise BackupError(f"the database {database.name} is not empty: restore needs an empty one")
    if database.vendor == "sqlite":
        target = Path(database.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(dump, target)
        return
    _create_postgres_database(database)
    done = subprocess.run(  # noqa: S603 - an argument list, no shell
        [
            settings.BACKUP_PG_RESTORE,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={database.name}",
            str(dump),
        ],
        env=database.libpq_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-800:]}")


def load_media(restored: Restored, media_root: Path) -> int:
    """Copy the snapshot's media into an empty (or missing) media directory."""
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(f"the media directory {media_root} is not empty")
    media_root.mkdir(parents=True, exist_ok=True)
    source = restored.media
    copied = 0
    for path in media_files(source):
        target = media_root / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


@dataclass
class RestoreResult:
    snapshot: str
    created: str
    tables: int
    rows: int
    files: int
    seconds: float
    problems: list[str]


def restore(
    *,
    snapshot: str = "latest",
    database_url: str | None = None,
    media_root: Path | None = None,
    repository: Repository | None = None,
) -> RestoreResult:
    """Bring a snapshot back into an empty database and media directory, then check it."""
    started = time.monotonic()
    repository = repository or configured_repository()
    database = Database.from_url(database_url) if database_url else current_database()
    media_root = Path(media_root or settings.MEDIA_ROOT)
    if not _database_is_empty(database):
        raise BackupError(f"the database {database.name} is not empty: restore needs an empty one")
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(f"the media directory {media_root} is not empty")
    if database.name == current_database().name:
        connection.close()  # (SQLite: the file is replaced underneath)
    with restored_snapshot(repository, snapshot) as restored:
        problems = compare_media(restored, restored.media)  # the snapshot against its manifest
        if problems:
            raise BackupError(
                "the snapshot does not match its manifest: " + "; ".join(problems[:20])
            )
        load_database(restored, database)
        files = load_media(restored, media_root)
        expected = restored.manifest["database"]["tables"]
        problems = compare_counts(expected, table_counts(database))
        problems += compare_media(restored, media_root)
        return RestoreResult(
            snapshot=restored.snapshot,
            created=restored.manifest["created"],
            tables=len(expected),
            rows=sum(expected.values()),
            files=files,
            seconds=round(time.monotonic() - started, 2),
            problems=problems,
        )


# --- verify ---------------------------------------------------------------------------------------


@dataclass
class DrillResult:
    snapshot: str
    created: str
    tables: int
    rows: int
    files: int
    seconds: float
    problems: list[str]


def scratch_database(template: Database) -> Database:
    """A new, unused database next to ``template`` for the drill (a temporary SQLite file, or
    ``<name>_drill_<pid>`` on the same PostgreSQL server)."""
    if template.vendor == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="lantai-drill-", dir=work_dir()))
        return template.renamed(str(path / "drill.sqlite3"))
    return template.renamed(f"{template.name}_drill_{os.getpid()}"[:63])


def verify(*, read_data_subset: str = "") -> DrillResult:
    """``restic check`` then a restore drill of the latest snapshot into a scratch database and
    directory, compared with the manifest; the problems list is empty when all is well."""
    started = time.monotonic()
    repository = configured_repository()
    subset = read_data_subset or settings.BACKUP_VERIFY_READ_DATA
    repository.run("check", *([f"--read-data-subset={subset}"] if subset else []))
    scratch = scratch_database(current_database())
    try:
        with restored_snapshot(repository) as restored:
            # every file of the snapshot against the checksum taken when it was made
            problems = compare_media(restored, restored.media)
            expected = restored.manifest["database"]["tables"]
            load_database(restored, scratch)
            problems += compare_counts(expected, table_counts(scratch))
            return DrillResult(
                snapshot=restored.snapshot,
                created=restored.manifest["created"],
                tables=len(expected),
                rows=sum(expected.values()),
                files=len(restored.manifest["media"]["files"]),
                seconds=round(time.monotonic() - started, 2),
                problems=problems,
            )
    finally:
        if scratch.vendor == "sqlite":
            shutil.rmtree(Path(scratch.name).parent, ignore_errors=True)
        else:
            drop_postgres_database(scratch)
