"""Mail that arrives: every message Django sends is queued, sent by a worker, retried with
backoff and recorded as sent only when the mail server took it.

``QueuedEmailBackend`` (the production ``EMAIL_BACKEND``) stores each message whole (its MIME
bytes and envelope) as an ``OutgoingMail`` row, in the caller's transaction: a rolled-back change
sends nothing, a committed one is never forgotten, and a mail server being down never fails a
page (a password reset, an overdue reminder). The ``send_notifications`` worker, which sends the
alarm notifications the same way (storage_env/notify.py), calls ``send_due_mail``: it claims due
messages (``SKIP LOCKED`` on PostgreSQL: two workers never send one twice), hands them to
``EMAIL_DELIVERY_BACKEND`` (SMTP from ``EMAIL_URL``), and marks each ``sent`` on success; a
refusal or an unreachable server is retried after 30 s, 1 min, 2 min … at most 1 h, and given up
(``failed``, with the error) after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import logging
import smtplib
from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.models import OutgoingMail

log = logging.getLogger("lantai.mail")

QUEUE_BACKEND = "core.mail.QueuedEmailBackend"
MAX_ATTEMPTS = 10
BACKOFF_FIRST = 30  # seconds before the first retry; doubled each time
BACKOFF_CAP = 3600
CLAIM_LEASE = dt.timedelta(minutes=15)  # a worker that dies mid-send leaves it for then
DEFAULT_LIMIT = 20


class QueuedEmailBackend(BaseEmailBackend):
    """Queues messages in the database; ``send_due_mail`` sends them."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        queued = 0
        for message in email_messages:
            recipients = list(message.recipients())
            if not recipients:
                continue
            try:
                OutgoingMail.objects.create(
                    from_email=str(message.from_email or settings.DEFAULT_FROM_EMAIL),
                    recipients=recipients,
                    subject=str(message.subject)[:300],
                    message=message.message().as_bytes(linesep="\r\n"),
                    next_attempt_at=timezone.now(),
                )
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            queued += 1
        return queued


def delivery_connection(**kwargs: Any) -> BaseEmailBackend:
    """The backend that really sends: EMAIL_DELIVERY_BACKEND behind the queue, else (tests,
    DEBUG's console) whatever EMAIL_BACKEND is."""
    backend = settings.EMAIL_BACKEND
    if backend == QUEUE_BACKEND:
        backend = settings.EMAIL_DELIVERY_BACKEND
    return get_connection(backend, **kwargs)


class _RawMessage:
    """A stored MIME message, as the delivery backends read it (``as_bytes``)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def as_bytes(self, linesep: str = "\n") -> bytes:
        return self.raw if linesep == "\r\n" else self.raw.replace(b"\r\n", linesep.encode())

    def get_charset(self) -> None:
        return None

    def __getitem__(self, name: str) -> str | None:
        return email.message_from_bytes(self.raw)[name]


class StoredEmail(EmailMessage):
    """A queued message handed to the delivery backend exactly as it was queued."""

    def __init__(self, row: OutgoingMail) -> None:
        super().__init__(subject=row.subject, from_email=row.from_email, to=row.recipients)
        self.raw = bytes(row.message)

    def message(self, *args: Any, **kwargs: Any) -> Any:  # the stored bytes, not a rebuild
        return _RawMessage(self.raw)


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min … ≤ 1 h."""
    return dt.timedelta(seconds=min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def _claim(now: dt.datetime, limit: int) -> list[int]:
    """Due messages, taken for this worker: each claim counts as an attempt and pushes the
    message out by CLAIM_LEASE, so no other worker takes it meanwhile."""
    with transaction.atomic():
        due = OutgoingMail.objects.filter(
            state=OutgoingMail.State.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            OutgoingMail.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE
            )
    return ids


def _failed(row: OutgoingMail, error: str, now: dt.datetime) -> str:
    given_up = row.attempts >= MAX_ATTEMPTS
    OutgoingMail.objects.filter(pk=row.pk, state=OutgoingMail.State.PENDING).update(
        state=OutgoingMail.State.FAILED if given_up else OutgoingMail.State.PENDING,
        next_attempt_at=None if given_up else now + backoff(row.attempts),
        last_error=error[:500],
    )
    log.warning("mail %s (%s) attempt %s failed: %s", row.pk, row.subject, row.attempts, error)
    return "failed" if given_up else "retry"


def send_due_mail(now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> Counter:
    """Send up to ``limit`` due messages over one connection; counts of ``sent``, ``retry``
    and ``failed``."""
    now = now or timezone.now()
    counts: Counter = Counter()
    ids = _claim(now, limit)
    if not ids:
        return counts
    rows = list(OutgoingMail.objects.filter(pk__in=ids).order_by("id"))
    backend = delivery_connection(fail_silently=False)
    try:
        backend.open()
    except (smtplib.SMTPException, OSError) as exc:  # the server is away: all wait
        for row in rows:
            counts[_failed(row, f"{type(exc).__name__}: {exc}", now)] += 1
        return counts
    try:
        for row in rows:
            try:
                accepted = backend.send_messages([StoredEmail(row)])
            except (smtplib.SMTPException, OSError) as exc:
                counts[_failed(row, f"{type(exc).__name__}: {exc}", now)] += 1
                continue
            if accepted != 1:
                counts[_failed(row, "the mail server did not take the message", now)] += 1
                continue
            OutgoingMail.objects.filter(pk=row.pk, state=OutgoingMail.State.PENDING).update(
                state=OutgoingMail.State.SENT,
                sent_at=timezone.now(),
                next_attempt_at=None,
                last_error="",
            )
            counts["sent"] += 1
    finally:
        # the messages are sent (or recorded as not): a close that fails changes nothing
        with contextlib.suppress(smtplib.SMTPException, OSError):
            backend.close()
    return counts
