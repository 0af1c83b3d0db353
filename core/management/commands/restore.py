"""``manage.py restore [SNAPSHOT]``: bring a backup back into an empty database and media
directory, then compare rows per table and every file's checksum with the backup's manifest
(core/backup.py). ``--list`` shows the snapshots."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import backup


class Command(BaseCommand):
    help = "Restore a backup snapshot into an empty database and media directory."

    def add_arguments(self, parser):
        parser.add_argument("snapshot", nargs="?", default="latest")
        parser.add_argument("--list", action="store_true", help="list the snapshots and stop")
        parser.add_argument(
            "--database-url", default="", help="restore into this database (default: the site's)"
        )
        parser.add_argument(
            "--media-root", default="", help="restore the media here (default: MEDIA_ROOT)"
        )
        parser.add_argument(
            "--from-copy", action="store_true", help="read the off-site copy's repository"
        )

    def handle(self, *args, snapshot, list, database_url, media_root, from_copy, **options):
        try:
            repository = backup.copy_repository() if from_copy else backup.configured_repository()
            if repository is None:
                raise backup.BackupError("BACKUP_COPY_REPOSITORY is not set")
            if list:
                for found in repository.snapshots():
                    self.stdout.write(
                        f"{found['short_id']}  {found['time'][:19]}  {found.get('hostname', '')}"
                    )
                return
            result = backup.restore(
                snapshot=snapshot,
                database_url=database_url or None,
                media_root=Path(media_root) if media_root else None,
                repository=repository,
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        if result.problems:
            for problem in result.problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(f"restored, but {len(result.problems)} difference(s) found")
        self.stdout.write(
            f"restored snapshot {result.snapshot} of {result.created}: {result.tables} tables, "
            f"{result.rows} rows, {result.files} files, all checked; {result.seconds} s"
        )
