"""The embedded default: search in the database itself, shared by its two vendors.

Documents live in ``search.SearchDocument`` (table ``search_document``) with their tokens
(``search.documents.analysed``: the same analysis as every other backend). This module holds
what both vendors share: the row shape, the versioned writes, the visibility and filter
clauses, hits and suggestions. The vendor's part (how rows are inserted, matched, counted
and ranked) is in ``search.backends.postgres`` (a generated
``tsvector`` under a GIN index, searched by ``search.backends.pg_search``) and
``search.backends.sqlite`` (an FTS5 table); ``search.backends.database_backend`` picks one by
``connection.vendor``. Either way visibility and filters are part of the same query, so counts
and facets never include a hidden record.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q

from repository.choices import PUBLIC_STATUSES
from search.analysis import ParsedQuery, code_key, parse_query, pinyin_query, title_key
from search.backends.base import (
    BulkResult,
    ReindexResult,
    SearchBackend,
    effective_request,
    require_words,
    suggest_code,
)
from search.documents import record_models
from search.highlight import highlight_fields
from search.models import SearchDocument
from search.query import (
    FacetBucket,
    Hit,
    SearchRequest,
    SearchResult,
    Suggestion,
    Visibility,
    encode_cursor,
)
from search.tokens import analysed, with_analysed

DOC_FIELDS = (
    "doc_id",
    "kind",
    "reference_code",
    "title",
    "creator",
    "keywords",
    "notes",
    "fonds_id",
    "fonds_code",
    "category_id",
    "category_code",
    "category_name",
    "year",
    "date_start",
    "date_end",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "room",
    "is_public",
    "volume_classification",
    "volume_fonds_id",
    "version",
)
# What one search may read of the table (see search.backends.pg_search): totals are exact up to
# TOTAL_CAP (Elasticsearch counts to search.query.TOTAL_CAP; SQLite caps its count the same
# way); facets of broader searches are estimated from about FACET_SAMPLE matches; relevance
# ranks up to RANK_LIMIT matches, broader searches list the newest first; the 1/32 probe reads
# at most PROBE_LIMIT rows. The vendor modules read these at call time (tests patch them).
TOTAL_CAP = 1_000
FACET_SAMPLE = 800
RANK_LIMIT = 5_000
PROBE_LIMIT = 1_200
SUGGEST_POOL = 500  # type-ahead ranks the first matches only
BATCH = 1000
# what a refused document raises: the database's own errors, and a value the driver cannot
# bind (sqlite3 raises OverflowError for an integer beyond 64 bits)
REFUSALS = (DatabaseError, OverflowError, ValueError)
log = logging.getLogger(__name__)


def row_values(doc: dict[str, Any], *, streams: bool = True) -> dict[str, Any]:
    """The row of ``doc``; ``_doc`` and ``_analysed`` are for the vendor's ``_insert``. Without
    ``streams`` (a vendor that builds its own tokens, PostgreSQL from ``pg_lexemes``) only the
    keys are analysed: the token columns stay empty and ``_analysed`` is None."""
    values = {name: doc.get(name) for name in DOC_FIELDS}
    values["record_id"] = doc["pk"]
    for name in ("date_start", "date_end"):
        if isinstance(values[name], str):
            values[name] = date.fromisoformat(values[name])
    for name in ("creator", "keywords", "notes", "room", "fonds_code", "category_code"):
        values[name] = values[name] or ""
    values["category_name"] = values["category_name"] or ""
    if not streams:
        values["title_tokens"] = values["body_tokens"] = ""
        values["title_key"] = title_key(doc.get("title") or "")
        values["code_key"] = code_key(doc.get("reference_code") or "")
        values["_doc"] = doc
        values["_analysed"] = None
        return values
    tokens = analysed(doc)
    values["title_tokens"] = tokens.title
    values["body_tokens"] = " ".join(tokens.body)
    values["title_key"] = tokens.title_key
    values["code_key"] = tokens.code_key
    values["_doc"] = doc
    values["_analysed"] = tokens
    return values


def model_values(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def to_doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = {name: row[name] for name in DOC_FIELDS}
    doc["pk"] = row["record_id"]
    for name in ("date_start", "date_end"):
        doc[name] = doc[name].isoformat() if doc[name] else None
    return doc


def permitted_q(visibility: Visibility, prefix: str = "") -> Q:
    """Cleared to the 密级 in ``<prefix>classification``, permitted on ``<prefix>fonds_id``."""
    q = Q(**{f"{prefix}classification__lte": visibility.clearance})
    if visibility.fonds_ids is not None:
        q &= Q(**{f"{prefix}fonds_id__in": list(visibility.fonds_ids)})
    return q


def visibility_q(visibility: Visibility) -> Q:
    """``Visibility.allows`` as a condition on ``search_document``."""
    public = Q(is_public=True)
    if visibility.public_only or visibility.fonds_ids == ():
        return public & ~Q(doc_id__in=visibility.hidden) if visibility.hidden else public
    volume = permitted_q(visibility, "volume_")
    own_public = Q(access_status__in=PUBLIC_STATUSES, classification=0)
    rule = (
        public
        | (permitted_q(visibility) & (Q(volume_fonds_id__isnull=True) | volume))
        | (own_public & volume)
    )
    if visibility.hidden:
        return rule & ~Q(doc_id__in=visibility.hidden)
    return rule


def filters_q(filters: dict[str, Any]) -> Q:
    q = Q()
    if "fonds" in filters:
        q &= Q(fonds_id__in=filters["fonds"])
    if "category" in filters:
        q &= Q(category_id__in=filters["category"])
    if "year" in filters:
        q &= Q(year__in=filters["year"])
    for name in ("carrier", "retention", "access_status", "kind"):
        if name in filters:
            q &= Q(**{f"{name}__in": filters[name]})
    if "year_from" in filters:
        q &= Q(year__gte=filters["year_from"])
    if "year_to" in filters:
        q &= Q(year__lte=filters["year_to"])
    return q


@dataclass
class Page:
    """One page of a database search, before hits are built."""

    rows: list[dict]
    order: str  # the sort the rows are in (a broad relevance search falls back to -date)
    total: int
    exact: bool
    facets: dict[str, list[FacetBucket]]
    facets_exact: bool = True


class DatabaseBackend(SearchBackend):
    """The shared part of the database backend; a vendor module supplies the rest."""

    name = "database"
    streams = True  # the vendor's _insert reads the token streams of ``row_values``
    prepare_document = staticmethod(with_analysed)

    def ping(self) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "backend": self.name, "vendor": connection.vendor}

    def setup(self) -> None:
        """The table and its full-text index come from the search app's migrations."""

    # --- vendor hooks ----------------------------------------------------------------------
    @abstractmethod
    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert new rows (``row_values`` dicts) into ``search_document`` and its index."""

    def _forget(self, ids: list[int]) -> None:
        """Before rows ``ids`` are deleted: drop them from a separate full-text index."""
        return None

    @abstractmethod
    def _page(self, request: SearchRequest, visibility: Visibility, parsed: ParsedQuery) -> Page:
        """The rows of one search (with ``rank`` when ranked), totals and facets."""

    @abstractmethod
    def _suggest_by_words(
        self, parsed: ParsedQuery, visibility: Visibility, size: int, *, prefix: bool
    ) -> list[dict]:
        """Type-ahead rows (title, reference_code, kind, record_id) matching ``parsed``; with
        ``prefix`` the last pinyin syllable may be unfinished."""

    def _after_rebuild(self) -> None:
        """After every row was rewritten (housekeeping)."""
        return None

    # --- writes --------------------------------------------------------------------------
    def index_documents(self, docs: Iterable[dict[str, Any]], *, force: bool = False) -> BulkResult:
        """Insert or replace rows; a row holding an equal (or, with ``force``, a strictly)
        newer version is kept. Rows are locked while compared, so writers may race."""
        result = BulkResult()
        batch: dict[str, dict[str, Any]] = {}
        for doc in docs:
            current = batch.get(doc["doc_id"])
            if current is None or doc["version"] > current["version"]:
                batch[doc["doc_id"]] = doc
            if len(batch) >= BATCH:
                self._write_isolating(batch, result, force=force)
                batch = {}
        if batch:
            self._write_isolating(batch, result, force=force)
        return result

    def _write_isolating(self, batch: dict[str, dict], result: BulkResult, *, force: bool) -> None:
        """Write ``batch``; when the database refuses it, split it in halves (each under its
        own savepoint) until the refused documents stand alone: they are recorded in
        ``result.failed``/``errors`` with the database's reason, and every other one is
        written (one bad document never holds back the rest)."""
        written = BulkResult()
        try:
            with transaction.atomic():
                self._write_batch(batch, written, force=force)
            result.indexed += written.indexed
            result.skipped_stale += written.skipped_stale
        except REFUSALS as exc:
            if len(batch) == 1:
                (key,) = batch
                reason = f"{type(exc).__name__}: {exc}".strip()
                log.warning("search index refused %s: %s", key, reason[:500])
                result.failed.add(key)
                result.errors.append(f"{key}: {reason}"[:500])
                return
            items = list(batch.items())
            half = len(items) // 2
            self._write_isolating(dict(items[:half]), result, force=force)
            self._write_isolating(dict(items[half:]), result, force=force)

    def _write_batch(self, batch: dict[str, dict], result: BulkResult, *, force: bool) -> None:
        with transaction.atomic():
            existing = {
                doc_id: (pk, version)
                for pk, doc_id, version in SearchDocument.objects.select_for_update()
                .filter(doc_id__in=list(batch))
                .values_list("pk", "doc_id", "version")
            }
            replace_ids: list[int] = []
            rows: list[dict[str, Any]] = []
            for doc_id, doc in batch.items():
                if doc_id in existing:
                    pk, version = existing[doc_id]
                    newer = doc["version"] >= version if force else doc["version"] > version
                    if not newer:
                        result.skipped_stale += 1
                        continue
                    replace_ids.append(pk)
                rows.append(row_values(doc, streams=self.streams))
            if replace_ids:
                self._delete_rows(replace_ids)
            if rows:
                self._insert(rows)
            result.indexed += len(rows)

    def _delete_rows(self, ids: list[int]) -> int:
        if not ids:
            return 0
        self._forget(ids)
        return SearchDocument.objects.filter(pk__in=ids).delete()[0]

    def delete_documents(self, items: Iterable[tuple[str, int]]) -> BulkResult:
        result = BulkResult()
        wanted = dict(items)
        if not wanted:
            return result
        with transaction.atomic():
            rows = list(
                SearchDocument.objects.select_for_update()
                .filter(doc_id__in=list(wanted))
                .values_list("pk", "doc_id", "version")
            )
            doomed = [pk for pk, doc_id, version in rows if version <= wanted[doc_id]]
            result.skipped_stale = len(rows) - len(doomed)
            self._delete_rows(doomed)
            result.deleted = len(wanted) - result.skipped_stale
        return result

    # --- reads ---------------------------------------------------------------------------
    @staticmethod
    def _sort_values(sort: str, row: dict) -> list[Any]:
        if sort == "relevance":
            return [row["rank"], row["doc_id"]]
        if sort == "code":
            return [row["reference_code"], row["doc_id"]]
        return [row["date_start"].isoformat() if row["date_start"] else None, row["doc_id"]]

    def search(self, request: SearchRequest, visibility: Visibility) -> SearchResult:
        parsed = parse_query(request.query)
        require_words(parsed)
        request = effective_request(request, parsed)
        page = self._page(request, visibility, parsed)
        if parsed.latin and page.total == 0:  # no Latin text has it: try it as pinyin
            parsed = pinyin_query(parsed)
            page = self._page(request, visibility, parsed)
        hits = []
        for row in page.rows:
            highlights = highlight_fields(row, parsed) if request.highlight else {}
            hits.append(
                Hit(
                    doc=to_doc(row),
                    score=row.get("rank"),
                    highlights=highlights,
                    sort_values=self._sort_values(page.order, row),
                )
            )
        next_cursor = None
        if hits and len(hits) == request.size:
            next_cursor = encode_cursor(hits[-1].sort_values)
        return SearchResult(
            total=page.total,
            total_exact=page.exact,
            hits=hits,
            facets=page.facets,
            facets_exact=page.facets_exact,
            next_cursor=next_cursor,
            page=request.page,
            size=request.size,
        )

    def suggest(self, prefix: str, visibility: Visibility, *, size: int = 8) -> list[Suggestion]:
        prefix = prefix.strip()
        parsed = parse_query(prefix)
        if not prefix or parsed.excludes_only:
            return []
        visible = SearchDocument.objects.filter(visibility_q(visibility))
        by_code: list[dict] = []
        code = suggest_code(prefix)
        if code:
            by_code = list(
                visible.filter(code_key__startswith=code)
                .order_by("reference_code")
                .values("title", "reference_code", "kind", "record_id")[:size]
            )
        by_title: list[dict] = []
        if len(by_code) < size and not parsed.empty:
            by_title = self._suggest_by_words(parsed, visibility, size, prefix=False)
            if len(by_title) < size and parsed.latin:
                by_title += self._suggest_by_words(
                    pinyin_query(parsed, prefix=True), visibility, size, prefix=True
                )
        seen: set[str] = set()
        suggestions = []
        for row in by_code + by_title:
            if row["reference_code"] in seen:
                continue
            seen.add(row["reference_code"])
            suggestions.append(
                Suggestion(
                    text=row["title"],
                    reference_code=row["reference_code"],
                    kind=row["kind"],
                    pk=row["record_id"],
                )
            )
        return suggestions[:size]

    def versions(self, doc_ids: Iterable[str]) -> dict[str, int]:
        return dict(
            SearchDocument.objects.filter(doc_id__in=list(doc_ids)).values_list("doc_id", "version")
        )

    def iter_versions(self) -> Iterator[tuple[str, int]]:
        yield from (
            SearchDocument.objects.order_by()
            .values_list("doc_id", "version")
            .iterator(chunk_size=5000)
        )

    def count(self) -> int:
        return SearchDocument.objects.count()

    def clear(self) -> None:
        SearchDocument.objects.all().delete()

    def rebuild(self, docs: Iterable[dict[str, Any]], *, expected: int, progress=None):
        """In place, with no downtime: every document is upserted (equal versions rewritten),
        then rows whose record is gone are dropped. Searches keep answering throughout."""
        started = time.monotonic()

        def counted(stream):
            for doc in stream:
                if progress is not None:
                    progress.update(1)
                yield doc

        result = self.index_documents(counted(docs), force=True)
        self.prune_missing()
        self._after_rebuild()
        counted_docs = self.count()
        return ReindexResult(
            target="search_document",
            streamed=result.indexed,
            counted=counted_docs,
            expected=expected,
            switched=counted_docs == expected,
            seconds=time.monotonic() - started,
        )

    def prune_missing(self) -> int:
        """Drop rows whose record no longer exists (one anti-join per kind)."""
        removed = 0
        for kind, model in record_models().items():
            # NOT EXISTS plans as a hash anti-join; ``NOT IN (subquery)`` cannot be hashed once
            # the ids outgrow work_mem and becomes quadratic (hours at a million records).
            gone = SearchDocument.objects.filter(kind=kind).exclude(
                Exists(model.objects.filter(pk=OuterRef("record_id")))
            )
            ids = list(gone.values_list("pk", flat=True)[:100_000])
            while ids:
                removed += self._delete_rows(ids)
                ids = list(gone.values_list("pk", flat=True)[:100_000])
        return removed


def DatabaseSearchBackend() -> DatabaseBackend:
    """The database backend for this connection's vendor (``search.backends.database_backend``:
    ``PostgresSearchBackend`` or ``SQLiteSearchBackend``)."""
    # imported here: postgres.py and sqlite.py import this module
    from search.backends import database_backend  # noqa: PLC0415 - the vendor modules import this one

    return database_backend()
