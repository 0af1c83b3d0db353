"""Live pushes to channel groups, across processes with or without Redis.

With Redis (``REDIS_URL``) every process sends straight to the shared channel layer after the
transaction commits. The embedded default has no Redis, and Channels' in-memory layer lives
inside one process, so a push from the alarm engine or the ingest worker could never reach a
browser connected to the web process. There, ``publish`` writes a ``LiveEvent`` row in the
same transaction as the change, and each web process relays new rows to its own in-memory
layer (``ensure_relay``, started by the first websocket that connects), polling every
``POLL_SECONDS``. Measured by ``bench/alarm_latency.py`` (embedded mode).

Why polling the database rather than another broker: the embedded default must need nothing
but the database; SQLite has no LISTEN/NOTIFY, and a poll of an indexed column every 0.2 s
costs well under a millisecond.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.models import LiveEvent

log = logging.getLogger("lantai.live")

POLL_SECONDS = 0.2
# Rows are read again for this long, so that a transaction that commits late (its row has a
# smaller id than rows already relayed) is still relayed, once.
REREAD_SECONDS = 10.0
KEEP_SECONDS = 300.0


def via_database() -> bool:
    return bool(getattr(settings, "LIVE_PUSH_VIA_DATABASE", False))


def publish(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send a live event to a channel group once the current transaction commits (never
    raises: the change is committed either way and the pages re-sync)."""
    if via_database():
        try:
            with transaction.atomic():
                LiveEvent.objects.create(
                    group=group[:100],
                    event=event_type[:64],
                    payload=payload,
                    created_at=timezone.now(),
                )
        except Exception:
            log.warning("live event for %s not stored", group, exc_info=True)
        return

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(
                group, {"type": "push.event", "event": event_type, "payload": payload}
            )
        except Exception:  # the change is committed; a lost push is re-synced by the page
            log.warning("live push to %s failed (channel layer down?)", group, exc_info=True)

    transaction.on_commit(send)


class Relay:
    """Relays ``LiveEvent`` rows to one process's channel layer."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.seen: dict[int, float] = {}  # event id -> when relayed (monotonic)
        self.since: dt.datetime | None = None
        self.pruned_at = 0.0

    def fetch(self) -> list[tuple[int, str, str, Any]]:
        now = timezone.now()
        if self.since is None:  # first poll: what was published just before we started
            self.since = now - dt.timedelta(seconds=REREAD_SECONDS)
        window = max(self.since, now - dt.timedelta(seconds=REREAD_SECONDS))
        rows = list(
            LiveEvent.objects.filter(created_at__gte=window)
            .order_by("id")
            .values_list("id", "group", "event", "payload")[:2000]
        )
        clock = time.monotonic()
        if clock - self.pruned_at > 60:
            self.pruned_at = clock
            LiveEvent.objects.filter(
                created_at__lt=now - dt.timedelta(seconds=KEEP_SECONDS)
            ).delete()
        return [row for row in rows if row[0] not in self.seen]

    async def run(self) -> None:
        fetch = sync_to_async(self.fetch, thread_sensitive=False)
        while True:
            try:
                rows = await fetch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live relay: reading events failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            clock = time.monotonic()
            for event_id, group, event, payload in rows:
                self.seen[event_id] = clock
                try:
                    await self.layer.group_send(
                        group, {"type": "push.event", "event": event, "payload": payload}
                    )
                except Exception:
                    log.warning("live relay: push to %s failed", group, exc_info=True)
            cutoff = clock - REREAD_SECONDS * 2
            if len(self.seen) > 1000 or (self.seen and next(iter(self.seen.values())) < cutoff):
                self.seen = {k: v for k, v in self.seen.items() if v >= cutoff}
            await asyncio.sleep(POLL_SECONDS)


_relays: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Task]] = {}


def ensure_relay(layer) -> None:
    """Start the relay for ``layer`` in the running event loop unless it runs already (called
    from websocket consumers; a no-op with Redis)."""
    if not via_database() or layer is None:
        return
    loop = asyncio.get_running_loop()
    key = id(layer)
    current = _relays.get(key)
    if current is not None and current[0] is loop and not current[1].done():
        return
    _relays[key] = (loop, loop.create_task(Relay(layer).run(), name="lantai-live-relay"))
