"""``send_notifications``: the worker that sends queued alarm notifications and queued e-mail
(``--once``: one pass).

Deliveries are queued with the alarm change (storage_env/notify.py); this worker sends the due
ones every few seconds. A delivery that fails is retried with backoff inside ``send_due`` and
never stops the loop; a database outage is waited out. Any other error ends the command with a
non-zero status so that a supervisor (``make run``, systemd) restarts it; SIGTERM/SIGINT end
it cleanly (0) after the message being sent. Several workers may run: each delivery is claimed
(``SKIP LOCKED`` on PostgreSQL), so none is sent twice.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection
from django.utils import translation

from core.heartbeat import Heartbeat
from core.mail import send_due_mail
from storage_env import notify

log = logging.getLogger("lantai.notify")

MAX_BACKOFF_SECONDS = 60.0


def drain(stop: threading.Event, limit: int) -> Counter:
    """Send batches of alarm notifications, then of queued e-mail (password resets, reminders:
    core/mail.py), until nothing is due (or ``stop``); the counts of the pass."""
    total: Counter = Counter()
    for send in (notify.send_due, send_due_mail):
        while not stop.is_set():
            counts = send(limit=limit)
            total.update(counts)
            if sum(counts.values()) < limit:
                break
    return total


class Command(BaseCommand):
    help = (
        "Send queued alarm notifications (e-mail, webhooks, WeCom and DingTalk robots) "
        "and queued e-mail (password resets, reminders)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--every", type=float, default=5.0, help="seconds between passes")
        parser.add_argument("--limit", type=int, default=notify.DEFAULT_LIMIT, help="batch size")

    def handle(self, *args, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        translation.activate(settings.LANGUAGE_CODE)
        stop = threading.Event()
        if options["once"]:
            counts = drain(stop, options["limit"])
            self.stdout.write(self.summary(counts))
            return
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        self.stdout.write("send_notifications: running")
        self.stdout.flush()
        failures = 0
        heartbeat = Heartbeat("send_notifications", stale_after=int(options["every"]) * 4 + 60)
        try:
            while not stop.is_set():
                heartbeat.beat(failures_in_a_row=failures)
                try:
                    close_old_connections()
                    counts = drain(stop, options["limit"])
                    failures = 0
                    if counts:
                        log.info(self.summary(counts))
                except DatabaseError as exc:
                    failures += 1
                    log.error("database error, retrying: %s", exc)
                    connection.close()
                backoff = min(MAX_BACKOFF_SECONDS, 2.0**failures) if failures else 0.0
                stop.wait(options["every"] + backoff)
        finally:
            heartbeat.stopped()
            connection.close()
        self.stdout.write("send_notifications: stopped")

    @staticmethod
    def summary(counts: Counter) -> str:
        return "send_notifications: {} sent, {} to retry, {} given up".format(
            counts.get("sent", 0), counts.get("retry", 0), counts.get("failed", 0)
        )
