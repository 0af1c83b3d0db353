"""``search_reconcile``: compare the database with the search index and repair.

python manage.py search_reconcile            # report and repair
python manage.py search_reconcile --dry-run  # report only (exit status 1 when not clean)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from search.backends import SearchUnavailable
from search.sync import reconcile


class Command(BaseCommand):
    help = "Compare records with the search index (presence, versions, orphans) and repair."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report only")

    def handle(self, *args, dry_run: bool, **options):
        try:
            result = reconcile(repair=not dry_run)
        except SearchUnavailable as exc:
            raise CommandError(f"search backend unavailable: {exc}") from exc
        self.stdout.write(
            f"checked {result.checked} records: {len(result.missing)} missing, "
            f"{len(result.outdated)} outdated, {len(result.orphaned)} orphaned; "
            f"{result.repaired} repaired"
        )
        for name in ("missing", "outdated", "orphaned"):
            ids = getattr(result, name)
            if ids:
                self.stdout.write(f"  {name}: {', '.join(ids[:20])}{' …' if len(ids) > 20 else ''}")
        if dry_run and not result.clean:
            raise CommandError("index and database differ (run without --dry-run to repair)")
