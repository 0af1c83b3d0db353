"""Health checks behind ``/healthz``.

Each app registers its checks in ``AppConfig.ready()``. A check returns a dict of details
(``{"ok": True, ...}``) or raises; a required check that fails turns the answer into a 503.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class RegisteredCheck:
    name: str
    func: Check
    required: bool


_CHECKS: dict[str, RegisteredCheck] = {}


def register_check(name: str, func: Check, *, required: bool = True) -> None:
    _CHECKS[name] = RegisteredCheck(name, func, required)


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_channel_layer() -> dict[str, Any]:
    """Round-trip one message through the channel layer (Redis in production)."""
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer configured"}

    async def roundtrip() -> None:
        channel = await layer.new_channel("healthz.")
        await layer.send(channel, {"type": "healthz.ping"})
        await layer.receive(channel)

    async def bounded() -> None:
        await asyncio.wait_for(roundtrip(), timeout=CHECK_TIMEOUT_SECONDS)

    async_to_sync(bounded)()
    return {"ok": True, "backend": type(layer).__name__}


register_check("database", check_database)
register_check("channel_layer", check_channel_layer)


def run_checks() -> tuple[bool, dict[str, Any]]:
    """Run every check; a failing check reports its error instead of raising."""
    healthy = True
    results: dict[str, Any] = {}
    for check in _CHECKS.values():
        started = time.perf_counter()
        try:
            detail = dict(check.func())
        except Exception as exc:  # a health check reports failures, it never raises
            detail = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        detail["required"] = check.required
        detail["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[check.name] = detail
        if check.required and not detail.get("ok"):
            healthy = False
    return healthy, results
