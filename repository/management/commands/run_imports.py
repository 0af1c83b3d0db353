"""``run_imports``: the long-running worker of catalogue import jobs (``ImportJob``).

    python manage.py run_imports            # run until SIGTERM/SIGINT
    python manage.py run_imports --once     # run what is queued now, then exit

It claims queued jobs one at a time (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers never take the same job), runs each import in a thread while this thread writes
the job's progress and heartbeat and the worker's ``Heartbeat("run_imports")``.

Restarts: a job whose worker died (its heartbeat older than ``IMPORT_JOB_STALE_SECONDS``) is
queued again and re-run from the start. That is safe: a dry run writes nothing, and a commit is
all-or-nothing in one transaction, which also marks the job done — a dead worker's transaction
was rolled back with it, so nothing of the first attempt remains, and a worker taken for dead
that finishes late finds its attempt superseded and rolls back.

SIGTERM/SIGINT: the running import is rolled back at its next row and its job queued again; the
worker then exits 0. A crash of the loop itself (e.g. the database gone) exits non-zero so the
supervisor restarts it.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from core.heartbeat import Heartbeat, default_instance
from repository import import_jobs


class Command(BaseCommand):
    help = "Run catalogue import jobs in the background (long-running)."

    def add_arguments(self, parser):
        parser.add_argument("--idle", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--once", action="store_true", help="run what is queued, then exit")

    def handle(self, *args, idle: float, once: bool, **options):
        stop = threading.Event()

        def request_stop(signum, frame):  # roll the running import back, then leave
            stop.set()

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        heartbeat = Heartbeat("run_imports", stale_after=120)
        worker = default_instance()
        threaded = not connection.in_atomic_block  # (tests run inside one transaction)
        ran = 0
        try:
            while not stop.is_set():
                if threaded:
                    close_old_connections()
                heartbeat.beat(jobs=ran)
                import_jobs.requeue_stale()
                job = import_jobs.claim_next(worker=worker)
                if job is None:
                    if once:
                        break
                    stop.wait(max(0.1, idle))
                    continue
                self.stdout.write(f"run_imports: job {job.pk} ({job.mode}) {job.filename}")
                state = import_jobs.run_job(job, stop=stop, heartbeat=heartbeat, threaded=threaded)
                self.stdout.write(f"run_imports: job {job.pk} {state}")
                ran += 1
        except Exception as exc:
            heartbeat.beat(force=True, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        heartbeat.stopped()
        self.stdout.write(f"run_imports stopped; {ran} jobs run")
