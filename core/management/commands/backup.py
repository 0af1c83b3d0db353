"""``manage.py backup``: an encrypted, deduplicated snapshot of the database, the media and the
configuration (without secrets) into the restic repository, then retention and the off-site
copy; ``backup --verify``: check the repository and run a restore drill (core/backup.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core import backup
from core.heartbeat import job_ran

DAY = 24 * 3600


class Command(BaseCommand):
    help = "Back up the database, media and configuration with restic; --verify drills a restore."

    def add_arguments(self, parser):
        parser.add_argument(
            "--init", action="store_true", help="create the repositories when they do not exist"
        )
        parser.add_argument("--no-copy", action="store_true", help="skip the off-site copy")
        parser.add_argument("--no-prune", action="store_true", help="skip the retention policy")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="check the repository and restore the latest snapshot into a scratch database",
        )
        parser.add_argument(
            "--read-data-subset",
            default="",
            help="with --verify: share of the data to read back (e.g. 10%%; default the setting)",
        )

    def handle(self, *args, init, no_copy, no_prune, verify, read_data_subset, **options):
        try:
            if verify:
                self.verify(read_data_subset)
            else:
                self.backup(init=init, copy=not no_copy, prune=not no_prune)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc

    def backup(self, *, init: bool, copy: bool, prune: bool) -> None:
        result = backup.make_backup(init=init, copy=copy, prune=prune)
        job_ran(
            "backup",
            period_seconds=DAY,
            snapshot=result.snapshot,
            seconds=result.seconds,
            bytes_added=result.bytes_added,
        )
        self.stdout.write(
            f"snapshot {result.snapshot}: {result.tables} tables, {result.rows} rows, "
            f"{result.files} files; {result.bytes_added} new bytes; {result.forgotten} old "
            f"snapshot(s) forgotten"
            + (f"; copied to {result.copied_to}" if result.copied_to else "")
            + f"; {result.seconds} s"
        )

    def verify(self, read_data_subset: str) -> None:
        result = backup.verify(read_data_subset=read_data_subset)
        if result.problems:
            for problem in result.problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(
                f"restore drill of snapshot {result.snapshot} FAILED: "
                f"{len(result.problems)} problem(s)"
            )
        job_ran("backup_verify", period_seconds=7 * DAY, snapshot=result.snapshot)
        self.stdout.write(
            f"restore drill of snapshot {result.snapshot} ({result.created}): {result.tables} "
            f"tables, {result.rows} rows and {result.files} files match; {result.seconds} s"
        )
