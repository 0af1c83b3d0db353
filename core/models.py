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
