"""``evaluate_alarms``: the long-running alarm engine (``--once`` for one full pass).

Two threads: a fast one evaluates the climate rules of sensors with new readings every tick
(alarm latency), a slow one runs the full pass (every rule, offline, battery, escalation),
the rollup and the retention job, so that a long full pass never delays a new alarm.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection, reset_queries
from django.utils import translation

from storage_env.engine import AlarmEngine
from storage_env.rollup import drop_old_readings, rollup_all

log = logging.getLogger("lantai.alarms")


def loop(stop: threading.Event, every: float, step: Callable[[], None], name: str) -> None:
    # Alarm messages are stored in the archive's language (translation is per thread).
    translation.activate(settings.LANGUAGE_CODE)
    try:
        while not stop.is_set():
            try:
                close_old_connections()
                step()
                reset_queries()
            except DatabaseError as exc:
                log.error("%s: database error, retrying: %s", name, exc)
                connection.close()
                stop.wait(2.0)
            stop.wait(every)
    finally:
        connection.close()


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
        translation.activate(settings.LANGUAGE_CODE)
        if options["once"]:
            AlarmEngine().evaluate_all()
            rollup_all()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        fast, slow = AlarmEngine(), AlarmEngine()
        fast.start_from_latest()
        timers = {"rollup": 0.0, "retention": 0.0}

        def slow_step() -> None:
            slow.evaluate_all()
            now = time.monotonic()
            if now - timers["rollup"] >= options["rollup_every"]:
                rollup_all()
                timers["rollup"] = now
            if now - timers["retention"] >= 3600:
                drop_old_readings(keep_days=options["keep_days"])
                timers["retention"] = now

        threads = [
            threading.Thread(
                target=loop, args=(stop, options["tick"], fast.evaluate_new_readings, "fast")
            ),
            threading.Thread(target=loop, args=(stop, options["full_every"], slow_step, "full")),
        ]
        for thread in threads:
            thread.start()
        self.stdout.write("evaluate_alarms: running")
        self.stdout.flush()
        while not stop.wait(1.0):
            if not all(thread.is_alive() for thread in threads):
                self.stderr.write("evaluate_alarms: a worker thread died")
                stop.set()
        for thread in threads:
            thread.join(30)
        self.stdout.write("evaluate_alarms: stopped")
