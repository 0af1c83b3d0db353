"""``evaluate_alarms``: the long-running alarm engine (``--once`` for one full pass).

Two threads: a fast one evaluates the climate rules of sensors with new readings every tick
(alarm latency), a slow one runs the full pass (every rule, offline, battery, escalation),
the rollup and the retention job, so that a long full pass never delays a new alarm.

Nothing a pass meets stops the engine: a failing sensor is skipped inside the pass (see
storage_env/engine.py), a failing step is logged, counted and retried with backoff, and a
database outage is waited out. Each thread writes a heartbeat (``/healthz`` names a stale
one). Should a thread die all the same, the command exits non-zero, so that a supervisor
(``make run``, systemd) restarts it; only SIGTERM/SIGINT end it with 0.

Several engines may run on one database: raises, clears, escalations and reminders are each
claimed in the database (see the engine's docstring), so none happens twice.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection, reset_queries
from django.utils import translation

from core.heartbeat import Heartbeat, forget_replaced
from storage_env.engine import AlarmEngine
from storage_env.rollup import drop_old_readings, rollup_all

log = logging.getLogger("lantai.alarms")

MAX_BACKOFF_SECONDS = 30.0


def loop(
    stop: threading.Event,
    every: float,
    step: Callable[[], None],
    name: str,
    heartbeat: Heartbeat,
    engine: AlarmEngine,
) -> None:
    """Run ``step`` every ``every`` seconds until ``stop``; never lets an exception out."""
    # Alarm messages are stored in the archive's language (translation is per thread).
    translation.activate(settings.LANGUAGE_CODE)
    failures = 0
    last_error = ""
    try:
        while not stop.is_set():
            try:
                close_old_connections()
                step()
                reset_queries()
                failures = 0
                last_error = ""
            except DatabaseError as exc:
                failures += 1
                last_error = f"database: {exc}"[:300]
                log.error("%s: database error, retrying: %s", name, exc)
                connection.close()
            except Exception as exc:  # a bug in one step never stops the engine
                failures += 1
                last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.exception("%s: step failed (%d in a row); retrying", name, failures)
            heartbeat.beat(
                error=last_error,
                failures_in_a_row=failures,
                sensor_failures=engine.stats.failures,
                last_sensor_failure=engine.stats.last_failure,
                sensors_evaluated=engine.stats.sensors_evaluated,
            )
            backoff = min(MAX_BACKOFF_SECONDS, 2.0**failures) if failures else 0.0
            stop.wait(every + backoff)
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Evaluate climate rules, offline sensors and escalation; roll up aggregates."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one full pass, then exit")
        parser.add_argument("--tick", type=float, default=0.1, help="new-readings pass (s)")
        parser.add_argument("--full-every", type=float, default=15.0, help="full pass (s)")
        parser.add_argument("--rollup-every", type=float, default=60.0)
        parser.add_argument("--keep-days", type=int, default=400, help="raw reading retention")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        translation.activate(settings.LANGUAGE_CODE)
        if options["once"]:
            engine = AlarmEngine()
            engine.evaluate_all()
            rollup_all()
            if engine.stats.failures:
                self.stderr.write(f"evaluate_alarms: {engine.stats.failures} sensor(s) failed")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        fast, slow = AlarmEngine(), AlarmEngine()
        fast.start_from_latest()
        timers = {"rollup": 0.0, "retention": 0.0}
        full_every = options["full_every"]

        def slow_step() -> None:
            slow.evaluate_all()
            now = time.monotonic()
            if now - timers["rollup"] >= options["rollup_every"]:
                rollup_all()
                timers["rollup"] = now
            if now - timers["retention"] >= 3600:
                drop_old_readings(keep_days=options["keep_days"])
                forget_replaced()  # heartbeat rows of workers restarted long ago
                timers["retention"] = now

        beats = {
            "fast": Heartbeat("evaluate_alarms.fast", stale_after=60),
            "full": Heartbeat("evaluate_alarms.full", stale_after=int(full_every * 4) + 60),
        }
        threads = [
            threading.Thread(
                target=loop,
                args=(
                    stop,
                    options["tick"],
                    fast.evaluate_new_readings,
                    "fast",
                    beats["fast"],
                    fast,
                ),
                name="alarms-fast",
            ),
            threading.Thread(
                target=loop,
                args=(stop, full_every, slow_step, "full", beats["full"], slow),
                name="alarms-full",
            ),
        ]
        for thread in threads:
            thread.start()
        self.stdout.write("evaluate_alarms: running")
        self.stdout.flush()
        died = []
        while not stop.wait(1.0):
            died = [thread.name for thread in threads if not thread.is_alive()]
            if died:
                stop.set()
        for thread in threads:
            thread.join(30)
        if died:
            self.stderr.write(f"evaluate_alarms: worker thread(s) died: {', '.join(died)}")
            sys.exit(1)
        for beat in beats.values():
            beat.stopped()
        self.stdout.write("evaluate_alarms: stopped")
