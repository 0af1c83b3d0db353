"""Freshness: a record changes (service-style: new version + outbox row in one transaction)
→ visible in search, with ``search_sync`` running as its own process; beside the floor of an
inline drain (the same change drained in-process at once) in the same run.

    BENCH_RECORDS=20000 .venv/bin/python bench/search_freshness.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_search_bench \
    ELASTICSEARCH_URL=http://127.0.0.1:9201 .venv/bin/python bench/search_freshness.py

BENCH_FRESHNESS_EDITS (40) edits, one at a time; each is polled every 20 ms until found.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, report  # noqa: E402
from search_latency import ES_PREFIX, ensure_database, environment, seed  # noqa: E402

EDITS = int(os.environ.get("BENCH_FRESHNESS_EDITS", "40"))


def edit(item, token: str) -> None:
    from django.db import transaction

    from search.outbox import enqueue

    with transaction.atomic():
        item.notes = f"{item.notes.split(' fresh')[0]} {token}"
        item.version += 1
        item.save(update_fields=["notes", "version", "updated_at"])
        enqueue(item)


def wait_visible(backend, token: str, timeout: float = 30.0) -> float:
    from search.query import SearchRequest, Visibility

    everyone = Visibility(public_only=False, fonds_ids=None, clearance=3)
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if backend.search(SearchRequest(query=token, size=1), everyone).total:
            return (time.perf_counter() - started) * 1000
        time.sleep(0.02)
    return timeout * 1000


def measure(backend, items, inline: bool) -> list[float]:
    from search.sync import drain_once

    latencies = []
    for item in items:
        token = f"fresh{uuid.uuid4().hex[:10]}"
        started = time.perf_counter()
        edit(item, token)
        if inline:
            drain_once(backend=backend)
            backend.refresh()
        latencies.append((time.perf_counter() - started) * 1000 + wait_visible(backend, token))
    return latencies


def main() -> None:
    env = environment()
    ensure_database(env)
    seed(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import logging

    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per request
    from repository.models import Item, Volume
    from search.backends import get_backend
    from search.sync import drain_once, reindex

    backend = get_backend()
    backend.setup()
    if backend.count() != Item.objects.count() + Volume.objects.count():
        reindex(backend=backend)
    while drain_once(backend=backend).taken:  # start from an empty outbox
        pass
    rng = random.Random(7)
    ids = list(Item.objects.order_by("pk").values_list("pk", flat=True)[:5000])
    items = list(Item.objects.filter(pk__in=rng.sample(ids, min(len(ids), EDITS * 2))))
    name = backend.name
    floor = measure(backend, items[:EDITS], inline=True)
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "search_sync", "--idle", "0.2"],
        cwd=ROOT,
        env=dict(os.environ, ELASTICSEARCH_INDEX_PREFIX=ES_PREFIX),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        latencies = measure(backend, items[EDITS : 2 * EDITS], inline=False)
    finally:
        worker.terminate()
        worker.wait(30)
    for label, values in (("search_sync", latencies), ("inline_drain", floor)):
        q = statistics.quantiles(values, n=100)
        report(f"freshness_{name}_{label}_p50", q[49], "ms")
        report(f"freshness_{name}_{label}_p99", q[98], "ms")


if __name__ == "__main__":
    main()
