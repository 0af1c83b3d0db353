"""``ocr_pages``: the long-running reader of digitised pages (Tesseract), like ``search_sync``.

    python manage.py ocr_pages            # run until SIGTERM/SIGINT
    python manage.py ocr_pages --once     # read what is waiting now, then exit

It lowers its own CPU priority (``nice``) so the web server keeps the processor; without
Tesseract it says so (and ``/healthz`` does too) and waits.
"""

from __future__ import annotations

import os
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from core.heartbeat import Heartbeat
from search.ocr import ocr_once, status


class Command(BaseCommand):
    help = "Read digitised pages with Tesseract into searchable page text (long-running)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=4)
        parser.add_argument("--idle", type=float, default=2.0, help="seconds between polls")
        parser.add_argument("--nice", type=int, default=10, help="CPU priority to lower by")
        parser.add_argument("--once", action="store_true", help="read what waits, then exit")

    def handle(self, *args, batch_size: int, idle: float, nice: int, once: bool, **options):
        if nice > 0:
            os.nice(min(nice, 19))
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        heartbeat = Heartbeat("ocr_pages", stale_after=600)
        read = failed = 0
        try:
            while not stop.is_set():
                if not connection.in_atomic_block:
                    close_old_connections()
                    heartbeat.beat(read=read, failed=failed)
                health = status()
                if not health["ok"]:
                    self.stderr.write(f"ocr_pages: {health.get('error')}")
                    if once:
                        break
                    stop.wait(60)
                    continue
                result = ocr_once(batch=max(1, min(batch_size, 50)))
                read += result.read
                failed += result.failed
                if result.read + result.failed == 0:
                    if once:
                        break
                    stop.wait(idle)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if not connection.in_atomic_block:
                heartbeat.stopped()
        self.stdout.write(f"ocr_pages stopped; {read} pages read, {failed} unreadable")
