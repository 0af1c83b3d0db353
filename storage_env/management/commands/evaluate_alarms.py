"""``evaluate_alarms``: the long-running alarm engine (``--once`` for one full pass)."""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from storage_env.engine import AlarmEngine
from storage_env.rollup import drop_old_readings, rollup_all

log = logging.getLogger("lantai.alarms")


class Command(BaseCommand):
    help = "Evaluate climate rules, offline sensors and escalation; roll up aggregates."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one full pass, then exit")
        parser.add_argument("--tick", type=float, default=0.25, help="new-readings pass (s)")
        parser.add_argument("--full-every", type=float, default=15.0, help="full pass (s)")
        parser.add_argument("--rollup-every", type=float, default=60.0)
        parser.add_argument("--keep-days", type=int, default=400, help="raw reading retention")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        engine = AlarmEngine()
        if options["once"]:
            engine.evaluate_all()
            rollup_all()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        self.stdout.write("evaluate_alarms: running")
        self.stdout.flush()
        last_full = last_rollup = last_retention = 0.0
        while not stop.is_set():
            now = time.monotonic()
            try:
                close_old_connections()
                if now - last_full >= options["full_every"]:
                    engine.evaluate_all()
                    last_full = now
                else:
                    engine.evaluate_new_readings()
                if now - last_rollup >= options["rollup_every"]:
                    rollup_all()
                    last_rollup = now
                if now - last_retention >= 3600:
                    drop_old_readings(keep_days=options["keep_days"])
                    last_retention = now
            except DatabaseError as exc:
                log.error("database error, retrying: %s", exc)
                stop.wait(2.0)
            stop.wait(options["tick"])
        self.stdout.write("evaluate_alarms: stopped")
