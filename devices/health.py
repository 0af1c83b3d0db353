"""``/healthz`` check: the ingest worker's heartbeat is recent and its database writes work."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from devices.ingest import HEARTBEAT_STALE_SECONDS
from devices.models import IngestState


def check_ingest() -> dict[str, Any]:
    states = list(IngestState.objects.order_by("-heartbeat_at")[:5])
    if not states:
        return {"ok": False, "error": "no ingest worker has reported yet"}
    now = timezone.now()
    workers = []
    ok = False
    for state in states:
        age = (now - state.heartbeat_at).total_seconds() if state.heartbeat_at else None
        fresh = age is not None and age <= HEARTBEAT_STALE_SECONDS
        healthy = fresh and not state.last_error
        ok = ok or healthy
        workers.append(
            {
                "client_id": state.client_id,
                "heartbeat_age_s": round(age, 1) if age is not None else None,
                "connected": state.connected,
                "buffered": state.buffered,
                "stored": state.stored,
                "dead_lettered": state.dead_lettered,
                "refused": state.refused,
                "error": state.last_error,
            }
        )
    return {"ok": ok, "workers": workers}
