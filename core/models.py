"""Shared infrastructure tables: worker heartbeats and the cross-process live-push relay."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """The last sign of life of one long-running worker or periodic job (one row per name and
    instance); ``/healthz`` names the stale ones."""

    name = models.CharField(_("worker"), max_length=64)
    instance = models.CharField(_("instance"), max_length=128)  # host:pid, or a job's host
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField(_("started at"))
    beat_at = models.DateTimeField(_("last heartbeat"))
    # how long without a beat before the worker counts as stale (periodic jobs: 2 × period)
    stale_after = models.PositiveIntegerField(_("stale after (s)"), default=60)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        constraints = [
            models.UniqueConstraint(fields=["name", "instance"], name="heartbeat_name_instance")
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.instance}"


class LiveEvent(models.Model):
    """A live push waiting for the web processes when no Redis channel layer crosses processes
    (the embedded default): written by any process, relayed by each web process to its own
    in-memory channel layer (core/live.py), deleted after a few minutes."""

    id = models.BigAutoField(primary_key=True)
    group = models.CharField(max_length=100)
    event = models.CharField(max_length=64)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("live event")
        verbose_name_plural = _("live events")

    def __str__(self) -> str:
        return f"{self.group} {self.event}"


class CacheEntry(models.Model):
    """A row of Django's database cache (``DatabaseCache``, the shared cache when no Redis is
    configured: API throttles). The table is the one ``createcachetable`` makes, declared as a
    model so that ``migrate`` creates it everywhere and a test database flush empties it."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "core_cache"
        verbose_name = _("cache entry")
        verbose_name_plural = _("cache entries")

    def __str__(self) -> str:
        return self.cache_key


class OutgoingMail(models.Model):
    """A message Django sent (password reset, reminder, …) waiting for the mail server: written
    by ``core.mail.QueuedEmailBackend`` (in the sender's transaction), sent by the
    ``send_notifications`` worker, ``sent`` only once the server took it (core/mail.py)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    from_email = models.CharField(_("sender"), max_length=320)
    recipients = models.JSONField(_("recipients"))  # the envelope: to, cc and bcc
    subject = models.CharField(_("e-mail subject"), max_length=300)
    message = models.BinaryField()  # the whole MIME message, CRLF line ends
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mails")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="mail_due_idx")]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.recipients)} ({self.state})"
