"""``search_reindex``: zero-downtime full rebuild of the search index with a progress bar.

    python manage.py search_reindex
    python manage.py search_reindex --no-progress --chunk-size 5000
    python manage.py search_reindex --workers auto   # analysis in one process per CPU

Elasticsearch: a new timestamped index is filled by streaming bulk (429s retried with backoff)
from a chunked, server-side cursor; the alias moves to it atomically only when its count
matches the database; then everything changed meanwhile is caught up. Database backend: rows
are rewritten in place and rows of deleted records dropped; searching never stops.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from search.backends import SearchUnavailable
from search.parallel import worker_count
from search.sync import reindex


class Command(BaseCommand):
    help = "Rebuild the search index with no downtime (progress bar on stderr)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--workers",
            default="1",
            help="processes that analyse documents: a number or auto (one per CPU); default 1",
        )

    def handle(self, *args, chunk_size: int, no_progress: bool, workers: str, **options):
        try:
            count = worker_count(workers)
        except ValueError as exc:
            raise CommandError(f"--workers: {exc}") from exc
        try:
            result = reindex(
                progress=not no_progress, chunk_size=max(100, chunk_size), workers=count
            )
        except SearchUnavailable as exc:
            raise CommandError(f"search backend unavailable: {exc}") from exc
        rate = result.streamed / result.seconds if result.seconds else 0.0
        self.stdout.write(
            f"reindex into {result.target}: {result.streamed} streamed, {result.counted} counted, "
            f"{result.expected} expected, {result.caught_up} caught up, "
            f"{result.seconds:.1f}s ({rate:.0f} records/s)"
        )
        if not result.switched:
            raise CommandError(
                "count mismatch: the live index was left as it was "
                f"(new index {result.counted}, database {result.expected})"
            )
        self.stdout.write(self.style.SUCCESS("live index switched"))
