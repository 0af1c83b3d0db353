"""``search_sync``: the long-running outbox drainer (one batch at a time, clean SIGTERM).

    python manage.py search_sync                 # run until SIGTERM/SIGINT
    python manage.py search_sync --once          # drain what is due now, then exit

A failing batch stays in the outbox with exponential backoff per row; while the engine is
down the loop sleeps with backoff too, and drains everything when it returns.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from core.heartbeat import Heartbeat
from search.sync import MAX_BACKOFF_SECONDS, drain_once


class Command(BaseCommand):
    help = "Drain the search outbox into the search backend (long-running)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--idle", type=float, default=0.5, help="seconds between polls")
        parser.add_argument("--once", action="store_true", help="drain what is due, then exit")

    def handle(self, *args, batch_size: int, idle: float, once: bool, **options):
        stop = threading.Event()

        def request_stop(signum, frame):  # finish the current batch, then leave
            stop.set()

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        failures = 0
        total = 0
        heartbeat = Heartbeat("search_sync", stale_after=120)
        try:
            while not stop.is_set():
                if not connection.in_atomic_block:  # (tests run inside one transaction)
                    close_old_connections()
                    heartbeat.beat(written=total, failures_in_a_row=failures)
                try:
                    result = drain_once(batch_size=max(1, min(batch_size, 5000)))
                except Exception as exc:  # the database itself failed: back off, keep going
                    result = None
                    self.stderr.write(f"search_sync: {type(exc).__name__}: {exc}")
                if result is not None and not result.error:
                    failures = 0
                    total += result.indexed + result.deleted
                    if result.taken == batch_size:
                        continue  # more is waiting
                    if once and result.taken == 0:
                        break
                    if once:
                        continue
                    stop.wait(idle)
                    continue
                failures += 1
                if result is not None:
                    self.stderr.write(f"search_sync: batch failed: {result.error}")
                if once:
                    break
                stop.wait(min(2**failures * 0.5, MAX_BACKOFF_SECONDS))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if not connection.in_atomic_block:
                heartbeat.stopped()
        self.stdout.write(f"search_sync stopped; {total} documents written")
