"""``import_catalogue FILE``: import catalogue rows from CSV (UTF-8 / UTF-8 BOM / GBK) or .xlsx.

manage.py import_catalogue list.xlsx --dry-run
manage.py import_catalogue list.csv --encoding gbk --map 题名=title --rejected bad.csv
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from repository.imports import ImportFileError, import_catalogue, rejected_csv, rejected_xlsx


class Command(BaseCommand):
    help = "Import catalogue records from a CSV or .xlsx file (dry run first)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--kind", choices=["item", "volume"], default="item")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument(
            "--all-or-nothing", action="store_true", help="write nothing if any row is bad"
        )
        parser.add_argument("--encoding", help="CSV encoding (default: detect UTF-8 or GBK)")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=COLUMN",
            help="map a file header to a catalogue column (repeatable)",
        )
        parser.add_argument("--rejected", help="write rejected rows (with an error column) here")
        parser.add_argument("--user", help="username recorded as the actor (default: system)")

    def handle(
        self, *args, path, kind, dry_run, all_or_nothing, encoding, map, rejected, user, **options
    ):
        source = Path(path)
        if not source.is_file():
            raise CommandError(f"no such file: {path}")
        mapping = {}
        for pair in map:
            if "=" not in pair:
                raise CommandError(f"--map needs HEADER=COLUMN, got {pair!r}")
            header, column = pair.split("=", 1)
            mapping[header.strip()] = column.strip()
        acting_user = None
        if user:
            acting_user = User.objects.filter(username=user).first()
            if acting_user is None:
                raise CommandError(f"no such user: {user}")
        data = source.read_bytes()
        bar = tqdm(desc="rows", unit="row", mininterval=0.5, disable=options["verbosity"] == 0)
        try:
            report = import_catalogue(
                data,
                source.name,
                acting_user=acting_user,
                kind=kind,
                mapping=mapping,
                encoding=encoding,
                dry_run=dry_run,
                all_or_nothing=all_or_nothing,
                progress=bar.update,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        for error in report.errors[:200]:
            self.stdout.write(f"row {error.row}, {error.column}: {error.reason}")
        if len(report.errors) > 200:
            self.stdout.write(f"… and {len(report.errors) - 200} more problems")
        if rejected and report.rejected:
            out = Path(rejected)
            out.write_bytes(
                rejected_xlsx(report) if out.suffix.lower() == ".xlsx" else rejected_csv(report)
            )
            self.stdout.write(f"rejected rows written to {out}")
        outcome = (
            f"{report.valid} would be imported (dry run)"
            if dry_run
            else f"{report.written} imported"
        )
        self.stdout.write(
            f"{report.total} rows: {report.valid} valid, {report.rejected_rows} rejected; {outcome}"
        )
        if report.errors and (dry_run or all_or_nothing):
            raise CommandError("the file has errors; nothing was written")
