"""Heartbeats of long-running workers and periodic jobs, and the ``/healthz`` check on them.

Each worker calls ``Heartbeat(name).beat()`` every few seconds (never raises: a worker keeps
working while the database is away); a periodic job calls ``job_ran(name, period)`` when it
has finished. A name counts as healthy while at least one of its instances beat within its
``stale_after``; a stale instance with no fresh sibling is named in ``/healthz``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core.models import WorkerHeartbeat

log = logging.getLogger("lantai.heartbeat")

# An instance replaced by a fresh one of the same name is forgotten after this long.
FORGET_REPLACED_SECONDS = 600


def default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


class Heartbeat:
    """The heartbeat of one worker process (or one thread of it, by name)."""

    def __init__(
        self, name: str, *, stale_after: int = 60, instance: str | None = None, every: float = 5.0
    ) -> None:
        self.name = name[:64]
        self.instance = (instance or default_instance())[:128]
        self.stale_after = stale_after
        self.every = every
        self.started_at = timezone.now()
        self._last = 0.0

    def beat(self, *, force: bool = False, error: str = "", **detail: Any) -> bool:
        """Record a sign of life (at most every ``every`` seconds unless forced); False when
        the database could not be reached (the worker goes on)."""
        clock = time.monotonic()
        if not force and clock - self._last < self.every:
            return True
        self._last = clock
        try:
            if not connection.in_atomic_block:  # (a job called inside a test's transaction)
                close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                name=self.name,
                instance=self.instance,
                defaults={
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "beat_at": timezone.now(),
                    "stale_after": self.stale_after,
                    "stopped_at": None,
                    "detail": detail,
                    "last_error": error[:300],
                },
            )
        except DatabaseError as exc:
            log.warning("heartbeat of %s not recorded: %s", self.name, exc)
            return False
        return True

    def stopped(self) -> None:
        """A clean stop: the instance is no longer expected to beat."""
        try:
            WorkerHeartbeat.objects.filter(name=self.name, instance=self.instance).update(
                stopped_at=timezone.now()
            )
        except DatabaseError as exc:
            log.warning("stop of %s not recorded: %s", self.name, exc)


def job_ran(name: str, *, period_seconds: int, **detail: Any) -> None:
    """A periodic job finished a run; it is stale after two periods without one."""
    Heartbeat(
        name, stale_after=2 * period_seconds + 60, instance=socket.gethostname(), every=0
    ).beat(force=True, **detail)


def worker_states(now=None) -> list[dict[str, Any]]:
    """Every known worker instance with its age and whether it is stale, dead or replaced."""
    now = now or timezone.now()
    rows = list(WorkerHeartbeat.objects.order_by("name", "-beat_at"))
    fresh_names = {
        row.name
        for row in rows
        if row.stopped_at is None and (now - row.beat_at).total_seconds() <= row.stale_after
    }
    states = []
    for row in rows:
        age = (now - row.beat_at).total_seconds()
        if row.stopped_at is not None:
            status = "stopped"
        elif age <= row.stale_after:
            status = "ok"
        elif row.name in fresh_names:
            status = "replaced"  # another instance of the same worker is alive
        else:
            status = "stale"
        states.append(
            {
                "name": row.name,
                "instance": row.instance,
                "status": status,
                "age_s": round(age, 1),
                "stale_after_s": row.stale_after,
                "error": row.last_error,
                "detail": row.detail,
            }
        )
    return states


def forget_replaced(now=None) -> int:
    """Housekeeping (run hourly by the alarm engine): drop instances that a fresh instance of
    the same worker replaced, or that stopped, long ago; every restart makes a new instance."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=FORGET_REPLACED_SECONDS)
    deleted = 0
    for state in worker_states(now):
        if state["status"] in {"replaced", "stopped"} and state["age_s"] > FORGET_REPLACED_SECONDS:
            deleted += WorkerHeartbeat.objects.filter(
                name=state["name"], instance=state["instance"], beat_at__lt=cutoff
            ).delete()[0]
    return deleted


def check_workers() -> dict[str, Any]:
    """``/healthz``: names each worker whose every instance has stopped beating. Only names
    (no hosts or pids): the answer is public."""
    states = worker_states()
    statuses: dict[str, set[str]] = {}
    for state in states:
        statuses.setdefault(state["name"], set()).add(state["status"])
    by_name = {
        name: "ok" if "ok" in found else "stale" if "stale" in found else "stopped"
        for name, found in statuses.items()
    }
    stale = sorted(name for name, status in by_name.items() if status == "stale")
    return {"ok": not stale, "workers": by_name, "stale": stale}
