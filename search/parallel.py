"""A full rebuild's document analysis in worker processes (``search_reindex --workers N``).

Building a document's tokens (``search.tokens.analysed`` / ``pg_lexemes``) is most of a
rebuild's CPU, and Python runs it on one core. With ``workers`` > 1 the rebuilding process still
reads the database (its server-side cursor, its connection, in its own thread) and writes to the
index; chunks of documents go to a pool of ``workers`` processes that only analyse them (each
result is stored in the document, see ``search.tokens.with_analysed``) and come back in order.
At most ``2 × workers`` chunks are in flight, so memory stays flat. Workers are spawned (never
forked from a process holding database connections and threads) and import only
``search.tokens`` (pure Python): no Django, no database.

Measured in docs/reindex-speed.md; one process remains the default.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

CHUNK = 500  # documents per task: large enough that pickling is a small share

Doc = dict[str, Any]


def worker_count(value: str) -> int:
    """``--workers``: a number of processes, or ``auto`` (one per CPU)."""
    if value == "auto":
        return os.cpu_count() or 1
    count = int(value)
    if count < 1:
        raise ValueError("workers must be 1 or more (or auto)")
    return count


def _prepare_chunk(prepare: Callable[[Doc], Doc], docs: list[Doc]) -> list[Doc]:
    return [prepare(doc) for doc in docs]


def prepared(
    docs: Iterable[Doc],
    prepare: Callable[[Doc], Doc] | None,
    *,
    workers: int,
    chunk: int | None = None,
) -> Iterator[Doc]:
    """``docs`` in the same order, each passed through ``prepare`` in one of ``workers``
    processes; with one worker (or nothing to prepare) ``docs`` unchanged, in this process."""
    if workers <= 1 or prepare is None:
        yield from docs
        return
    chunk = chunk or CHUNK
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    pending: deque[Future[list[Doc]]] = deque()
    try:
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= chunk:
                pending.append(pool.submit(_prepare_chunk, prepare, batch))
                batch = []
                while len(pending) >= 2 * workers:
                    yield from pending.popleft().result()
        if batch:
            pending.append(pool.submit(_prepare_chunk, prepare, batch))
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
