"""Keeping the index in step with the catalogue: outbox drain, reconcile, full reindex.

- ``drain_once`` takes a batch of due outbox rows, those that narrow visibility (``narrows``:
  closed, classified, withdrawn, deleted, a page withheld) before the rest however long the
  backlog (``SKIP LOCKED`` on PostgreSQL, so several drainers never take the same rows),
  collapses them per record, writes the record's *current* document (or deletes it when the
  record is gone) and removes the rows. A failing batch is kept and retried with exponential
  backoff (``attempts``/``next_attempt_at``/``last_error``). Version checks in the backends
  mean an older write never replaces a newer one.
- ``reconcile`` compares database and index (presence and version) and repairs both ways.
- ``reindex`` rebuilds the whole index with no downtime, then catches up with what changed while
  it ran.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone
from tqdm import tqdm

from search.backends import get_backend
from search.backends.base import ReindexResult, SearchBackend
from search.documents import (
    MODEL_LABELS,
    doc_id,
    documents_for,
    iter_documents,
    record_models,
    split_doc_id,
)
from search.models import OutboxEntry
from search.parallel import prepared

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
BACKLOG_MAX_AGE_SECONDS = 300  # /healthz calls the backlog unhealthy beyond this age


def backoff_seconds(attempts: int) -> int:
    return min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


@dataclass
class DrainResult:
    taken: int = 0
    indexed: int = 0
    deleted: int = 0
    stale: int = 0
    failed: int = 0
    error: str = ""


def _due(now) -> Any:
    rows = OutboxEntry.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).order_by("-narrows", "id")  # a change that narrows visibility first, then in order
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return rows


def _fail(entries: list[OutboxEntry], error: str, now) -> None:
    for entry in entries:
        entry.attempts = min(entry.attempts + 1, 32767)
        entry.next_attempt_at = now + timedelta(seconds=backoff_seconds(entry.attempts))
        entry.last_error = error[:2000]
    OutboxEntry.objects.bulk_update(entries, ["attempts", "next_attempt_at", "last_error"])


def drain_once(*, backend: SearchBackend | None = None, batch_size: int = 500) -> DrainResult:
    """Process one batch of due outbox rows. Never raises for engine faults."""
    backend = backend or get_backend()
    now = timezone.now()
    result = DrainResult()
    with transaction.atomic():
        entries = list(_due(now)[:batch_size])
        result.taken = len(entries)
        if not entries:
            return result
        by_record: dict[tuple[str, int], list[OutboxEntry]] = defaultdict(list)
        unknown = []
        for entry in entries:
            kind = MODEL_LABELS.get(entry.model_label)
            if kind is None:
                unknown.append(entry.pk)
                continue
            by_record[(kind, entry.object_id)].append(entry)
        if unknown:
            log.warning("dropping %d outbox rows of unknown models", len(unknown))
            OutboxEntry.objects.filter(pk__in=unknown).delete()

        docs: list[dict] = []
        forced: list[dict] = []  # changed without a new record version (page text)
        deletes: list[tuple[str, int]] = []
        pks_by_kind: dict[str, list[int]] = defaultdict(list)
        for kind, pk in by_record:
            pks_by_kind[kind].append(pk)
        for kind, pks in pks_by_kind.items():
            live = documents_for(kind, pks)
            for pk in pks:
                if pk in live:
                    force = any(e.force for e in by_record[(kind, pk)])
                    (forced if force else docs).append(live[pk])
                else:
                    version = max(e.version for e in by_record[(kind, pk)])
                    deletes.append((doc_id(kind, pk), version))
        try:
            written = backend.index_documents(docs)
            if forced:
                rewritten = backend.index_documents(forced, force=True)
                written.indexed += rewritten.indexed
                written.skipped_stale += rewritten.skipped_stale
                written.errors += rewritten.errors
                written.failed |= rewritten.failed
            removed = backend.delete_documents(deletes)
        except Exception as exc:  # the engine is down or refused: keep the rows, back off
            result.error = f"{type(exc).__name__}: {exc}"[:500]
            result.failed = len(entries) - len(unknown)
            _fail([e for group in by_record.values() for e in group], result.error, now)
            return result
        failed_ids = written.failed | removed.failed
        failed_entries = [
            e
            for (kind, pk), group in by_record.items()
            if doc_id(kind, pk) in failed_ids
            for e in group
        ]
        if failed_entries:
            result.error = "; ".join(written.errors + removed.errors)[:500]
            _fail(failed_entries, result.error, now)
        done = [
            e.pk
            for (kind, pk), group in by_record.items()
            if doc_id(kind, pk) not in failed_ids
            for e in group
        ]
        OutboxEntry.objects.filter(pk__in=done).delete()
        result.indexed = written.indexed
        result.deleted = removed.deleted
        result.stale = written.skipped_stale + removed.skipped_stale
        result.failed = len(failed_entries)
    return result


def backlog() -> dict[str, Any]:
    """Size and age of the outbox, for /healthz."""
    stats = OutboxEntry.objects.aggregate(oldest=Min("created_at"), attempts=Max("attempts"))
    count = OutboxEntry.objects.count()
    age = (timezone.now() - stats["oldest"]).total_seconds() if stats["oldest"] else 0.0
    return {
        "ok": age <= BACKLOG_MAX_AGE_SECONDS,
        "backlog": count,
        "oldest_age_seconds": round(age, 1),
        "max_attempts": stats["attempts"] or 0,
    }


# --- reconcile -------------------------------------------------------------------------------
@dataclass
class ReconcileResult:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.outdated or self.orphaned)


REPORT_LIMIT = 1000  # ids kept per list for the report; counting goes on


def reconcile(
    *, backend: SearchBackend | None = None, repair: bool = True, chunk: int = 2000
) -> ReconcileResult:
    """Compare every record with the index (presence, version) and every indexed document with
    the database (orphans); with ``repair``, write the newer documents and delete the orphans."""
    backend = backend or get_backend()
    backend.setup()
    result = ReconcileResult()
    for kind, model in record_models().items():
        rows = model.objects.order_by().values_list("pk", "version").iterator(chunk_size=chunk)
        while True:
            batch = [next(rows, None) for _ in range(chunk)]
            batch = [row for row in batch if row is not None]
            if not batch:
                break
            result.checked += len(batch)
            indexed = backend.versions(doc_id(kind, pk) for pk, _ in batch)
            stale_pks = []
            for pk, version in batch:
                key = doc_id(kind, pk)
                if key not in indexed:
                    result.missing.append(key)
                elif indexed[key] < version:
                    result.outdated.append(key)
                else:
                    continue
                stale_pks.append(pk)
            if repair and stale_pks:
                written = backend.index_documents(documents_for(kind, stale_pks).values())
                result.repaired += written.indexed
    orphans: list[tuple[str, int]] = []

    def flush() -> None:
        by_kind: dict[str, dict[int, tuple[str, int]]] = defaultdict(dict)
        for key, version in orphans:
            kind, pk = split_doc_id(key)
            by_kind[kind][pk] = (key, version)
        gone = []
        for kind, candidates in by_kind.items():
            model = record_models().get(kind)
            existing = set(
                model.objects.filter(pk__in=list(candidates)).values_list("pk", flat=True)
                if model
                else []
            )
            gone.extend(v for pk, v in candidates.items() if pk not in existing)
        result.orphaned.extend(key for key, _ in gone)
        if repair and gone:
            result.repaired += backend.delete_documents(gone).deleted
        orphans.clear()

    for key, version in backend.iter_versions():
        orphans.append((key, version))
        if len(orphans) >= chunk:
            flush()
    flush()
    for name in ("missing", "outdated", "orphaned"):
        setattr(result, name, getattr(result, name)[:REPORT_LIMIT])
    return result


# --- full reindex ----------------------------------------------------------------------------
def expected_count(since) -> int:
    return sum(m.objects.filter(created_at__lte=since).count() for m in record_models().values())


def reindex(
    *,
    backend: SearchBackend | None = None,
    progress: bool = False,
    chunk_size: int = 2000,
    workers: int = 1,
) -> ReindexResult:
    """Zero-downtime full rebuild; then re-apply what changed while it ran. With ``workers``
    > 1 the documents are analysed in that many processes (``search.parallel``)."""
    backend = backend or get_backend()
    started_at = timezone.now()
    expected = expected_count(started_at)

    def every_document():
        for kind in record_models():
            yield from iter_documents(kind, chunk_size=chunk_size, created_at__lte=started_at)

    rows = every_document()
    docs = prepared(rows, backend.prepare_document, workers=workers)
    try:
        with tqdm(
            total=expected, disable=not progress, unit="rec", desc="reindex", mininterval=1
        ) as bar:
            result = backend.rebuild(docs, expected=expected, progress=bar)
    finally:  # a failed rebuild closes its server-side cursor now, not whenever it is collected
        docs.close()
        rows.close()
    if result.switched:
        result.caught_up = catch_up(backend, since=started_at - timedelta(seconds=1))
    return result


def catch_up(backend: SearchBackend, *, since) -> int:
    """Index every record created or changed since ``since`` (version checks keep newer
    documents) and apply pending deletions from the outbox."""
    written = 0
    for kind in record_models():
        written += backend.index_documents(iter_documents(kind, updated_at__gte=since)).indexed
    pending = OutboxEntry.objects.filter(deleted=True, created_at__gte=since)
    deletes = [
        (doc_id(MODEL_LABELS[e.model_label], e.object_id), e.version)
        for e in pending
        if e.model_label in MODEL_LABELS
    ]
    if deletes:
        written += backend.delete_documents(deletes).deleted
    return written
