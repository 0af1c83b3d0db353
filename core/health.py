"""Health checks behind ``/readyz`` and ``/healthz``.

Each app registers its checks in ``AppConfig.ready()``. A check returns a dict of details
(``{"ok": True, ...}``) or raises; a required check that fails turns the answer into a 503.

Every answer comes within ``HEALTH_TIMEOUT`` (0.5 s) whatever is down: the checks run in
parallel on a small pool of threads and a check that has not answered by then is reported as
timed out (it finishes, or gives up on its own connect timeout, in the background; the pool is
bounded, so a long outage cannot pile threads up). Inside a test's transaction they run inline,
where the test's uncommitted rows are visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

CHECK_TIMEOUT_SECONDS = 0.4  # the channel layer's round trip
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="health")

# What an anonymous caller sees of a check: states and counts, never a host, an address, a
# client id or an error text (which names hosts); administrators see everything.
PUBLIC_KEYS = {"ok", "required", "ms", "vendor", "backend", "stale", "backlog", "timeout"}
PUBLIC_KEYS |= {"oldest_age_seconds", "max_attempts", "age_s"}

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


def _in_thread(func: Check) -> dict[str, Any]:
    try:
        return dict(func())
    finally:
        connection.close()  # this pool thread's own connection (never the request's)


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


def _timed(func: Check, *, pooled: bool) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = _in_thread(func) if pooled else dict(func())
    except Exception as exc:  # a health check reports failures, it never raises
        detail = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    detail["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return detail


def run_checks(
    names: Iterable[str] | None = None, *, timeout: float | None = None
) -> tuple[bool, dict[str, Any]]:
    """Run the checks (all, or those named) in parallel; a failing check reports its error
    instead of raising, one without an answer after ``timeout`` seconds reports that."""
    timeout = settings.HEALTH_TIMEOUT if timeout is None else timeout
    wanted = None if names is None else set(names)
    checks = [c for c in _CHECKS.values() if wanted is None or c.name in wanted]
    results: dict[str, Any] = {}
    if connection.in_atomic_block:  # a test's transaction: other threads cannot see its rows
        for check in checks:
            results[check.name] = _timed(check.func, pooled=False)
    else:
        futures: dict[str, Future] = {
            check.name: _POOL.submit(_timed, check.func, pooled=True) for check in checks
        }
        wait_for(futures.values(), timeout=timeout)
        for name, future in futures.items():
            if future.done():
                results[name] = future.result()
            else:
                future.cancel()  # still queued: never starts; running: ends on its own
                results[name] = {
                    "ok": False,
                    "timeout": True,
                    "error": f"no answer within {timeout} s",
                    "ms": round(timeout * 1000, 1),
                }
    healthy = True
    for check in checks:
        results[check.name]["required"] = check.required
        if check.required and not results[check.name].get("ok"):
            healthy = False
    return healthy, results


def public_view(results: dict[str, Any]) -> dict[str, Any]:
    """The checks as anyone may see them: states and counts only."""
    shown: dict[str, Any] = {}
    for name, detail in results.items():
        kept = {key: value for key, value in detail.items() if key in PUBLIC_KEYS}
        workers = detail.get("workers")
        if isinstance(workers, dict):  # worker names and their states
            kept["workers"] = workers
        elif isinstance(workers, list):
            kept["workers"] = len(workers)
        if not detail.get("ok"):
            kept["error"] = "timeout" if detail.get("timeout") else "unavailable"
        shown[name] = kept
    return shown
