"""``seed_demo --records N``: idempotent, realistic demo data for every app.

Each app may provide a ``demo`` module with ``seed(*, records, out)``; they run in dependency
order. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import importlib
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from accounts.demo import logins_table
from accounts.models import User

APP_ORDER = ["accounts", "repository", "devices", "storage_env", "borrowing", "search"]


class Command(BaseCommand):
    help = "Load idempotent demo data: users for every role, fonds, rooms, sensors, N records."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=1000, help="catalogue records (N)")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when users already exist"
        )
        parser.add_argument(
            "--no-index",
            action="store_true",
            help="leave the search index to `search_reindex` (large seeds, benchmarks)",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="allow demo users with a known password when DEBUG is off",
        )

    def handle(
        self,
        *args,
        records: int,
        if_empty: bool,
        no_index: bool,
        allow_production: bool,
        **options,
    ):
        if records < 0:
            raise CommandError("--records must be 0 or more")
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "seed_demo creates users with a known password; "
                "refusing with DEBUG off (pass --allow-production to insist)"
            )
        if if_empty and User.objects.exclude(username=settings.ANONYMOUS_USER_NAME).exists():
            self.stdout.write("database already has users; demo data not loaded")
            return
        translation.activate(settings.LANGUAGE_CODE)
        for app in APP_ORDER:
            if no_index and app == "search":
                self.stdout.write("  [search] index not built (--no-index): run search_reindex")
                continue
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            started = time.perf_counter()
            module.seed(records=records, out=self.stdout)
            self.stdout.write(f"  [{app}] {time.perf_counter() - started:.1f}s")
        self.stdout.write(self.style.SUCCESS("demo data ready. Demo logins:"))
        self.stdout.write(logins_table())
