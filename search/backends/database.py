"""The embedded default: search in the database itself (PostgreSQL full text / SQLite FTS5).

Documents live in ``search.SearchDocument`` (table ``search_document``) with their tokens
(``search.documents.tokenize``: CJK bigrams + lower-case words, the same analysis as the
Elasticsearch mapping). PostgreSQL matches a generated ``tsvector`` under a GIN index with a
``tsquery`` built from the same terms (lexemes passed as-is, so no parser or dictionary touches
Chinese) and from scope lexemes for visibility and filters, reading a bounded number of rows per
search whatever the catalogue's size (``search.backends.pg_search``); SQLite matches an FTS5
table with visibility and filters as ``WHERE`` clauses. Either way they are part of the same
query, so counts and facets never include a hidden record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from search.backends import pg_search
from search.backends.base import BulkResult, ReindexResult, SearchBackend
from search.documents import query_terms, tokenize
from search.highlight import highlight
from search.models import SearchDocument
from search.query import (
    FACET_FIELDS,
    FacetBucket,
    Hit,
    SearchRequest,
    SearchResult,
    Suggestion,
    Visibility,
    encode_cursor,
)

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
    "version",
)
CODE_BOOST = pg_search.CODE_BOOST
FACET_LIMITS = {"year": 200}
# What one search may read of the table (see search.backends.pg_search): totals are exact up to
# TOTAL_CAP (Elasticsearch counts to search.query.TOTAL_CAP); facets of broader searches are
# estimated from about FACET_SAMPLE matches; relevance ranks up to RANK_LIMIT matches, broader
# searches list the newest first; the 1/32 probe reads at most PROBE_LIMIT rows.
TOTAL_CAP = 1_000
FACET_SAMPLE = 800
RANK_LIMIT = 5_000
PROBE_LIMIT = 1_200
SUGGEST_POOL = 500  # type-ahead ranks the first matches only
BATCH = 1000


def _unique(tokens: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(tokens))


def row_values(doc: dict[str, Any]) -> dict[str, Any]:
    values = {name: doc.get(name) for name in DOC_FIELDS}
    values["record_id"] = doc["pk"]
    for name in ("date_start", "date_end"):
        if isinstance(values[name], str):
            values[name] = date.fromisoformat(values[name])
    for name in ("creator", "keywords", "notes", "room", "fonds_code", "category_code"):
        values[name] = values[name] or ""
    values["category_name"] = values["category_name"] or ""
    values["title_tokens"] = _unique(tokenize(doc["title"]))
    body = " ".join(doc.get(n) or "" for n in ("reference_code", "creator", "keywords", "notes"))
    values["body_tokens"] = _unique(tokenize(body))
    return values


def to_row(doc: dict[str, Any]) -> SearchDocument:
    return SearchDocument(**row_values(doc))


COPY_COLUMNS = (*DOC_FIELDS, "record_id", "title_tokens", "body_tokens")


def to_doc(row: dict[str, Any]) -> dict[str, Any]:
    doc = {name: row[name] for name in DOC_FIELDS}
    doc["pk"] = row["record_id"]
    for name in ("date_start", "date_end"):
        doc[name] = doc[name].isoformat() if doc[name] else None
    return doc


def visibility_q(visibility: Visibility) -> Q:
    public = Q(is_public=True)
    if visibility.public_only or visibility.fonds_ids == ():
        return public
    permitted = Q(classification__lte=visibility.clearance)
    if visibility.fonds_ids is not None:
        permitted &= Q(fonds_id__in=list(visibility.fonds_ids))
    return public | permitted


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


def tsquery(terms: list[str]) -> str:
    """``'档案' & '案馆'``: quoted lexemes are taken as they are (terms hold no quotes)."""
    return " & ".join("'" + t.replace("'", "''").replace("\\", "\\\\") + "'" for t in terms)


def fts5_query(terms: list[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


class DatabaseSearchBackend(SearchBackend):
    name = "database"

    def ping(self) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "backend": self.name, "vendor": connection.vendor}

    def setup(self) -> None:
        """The table and its full-text index come from the search app's migrations."""

    # --- writes --------------------------------------------------------------------------
    def _fts_delete(self, ids: list[int]) -> None:
        if connection.vendor != "sqlite" or not ids:
            return
        with connection.cursor() as cursor:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("%s" for _ in chunk)
                cursor.execute(f"DELETE FROM search_document_fts WHERE rowid IN ({marks})", chunk)  # noqa: S608

    def _fts_insert(self, rows: list[SearchDocument]) -> None:
        if connection.vendor != "sqlite" or not rows:
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO search_document_fts (rowid, title, body) VALUES (%s, %s, %s)",
                [(r.pk, r.title_tokens, r.body_tokens) for r in rows],
            )

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
                self._write_batch(batch, result, force=force)
                batch = {}
        if batch:
            self._write_batch(batch, result, force=force)
        return result

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
                rows.append(row_values(doc))
            if replace_ids:
                self._fts_delete(replace_ids)
                SearchDocument.objects.filter(pk__in=replace_ids).delete()
            if connection.vendor == "postgresql":
                self._copy(rows)  # COPY: no per-row SQL compilation
            else:
                created = SearchDocument.objects.bulk_create(
                    [SearchDocument(**r) for r in rows], batch_size=BATCH
                )
                self._fts_insert(created)
            result.indexed += len(rows)

    @staticmethod
    def _copy(rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = ", ".join(f'"{c}"' for c in COPY_COLUMNS)
        statement = f"COPY search_document ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in COPY_COLUMNS])

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
            self._fts_delete(doomed)
            SearchDocument.objects.filter(pk__in=doomed).delete()
            result.deleted = len(wanted) - result.skipped_stale
        return result

    # --- reads ---------------------------------------------------------------------------
    def _matching(self, query: str, visibility: Visibility) -> tuple[QuerySet, bool]:
        """Visible rows matching ``query``, annotated with ``rank`` (higher is better)."""
        rows = SearchDocument.objects.filter(visibility_q(visibility))
        terms = query_terms(query)
        if not terms:
            return rows, False
        code = query.strip()
        if connection.vendor == "postgresql":
            tsq = tsquery(terms)
            rows = rows.filter(
                RawSQL("search_vector @@ %s::tsquery", [tsq], output_field=BooleanField())
                | Q(reference_code=code)
            )
            rank, params = pg_search.rank_sql(tsq, code)  # constant SQL, bound parameters
            rows = rows.annotate(rank=RawSQL(rank, params, output_field=FloatField()))  # noqa: S611
        else:
            match = fts5_query(terms)
            rows = rows.filter(
                Q(
                    pk__in=RawSQL(
                        "SELECT rowid FROM search_document_fts WHERE search_document_fts MATCH %s",
                        [match],
                    )
                )
                | Q(reference_code=code)
            ).annotate(
                rank=Coalesce(
                    RawSQL(
                        "(SELECT -bm25(search_document_fts, 3.0, 1.0) FROM search_document_fts"
                        " WHERE search_document_fts MATCH %s"
                        " AND search_document_fts.rowid = search_document.id)",
                        [match],
                        output_field=FloatField(),
                    ),
                    Value(0.0),
                )
                + RawSQL(
                    "CASE WHEN search_document.reference_code = %s THEN %s ELSE 0 END",
                    [code, CODE_BOOST],
                    output_field=FloatField(),
                )
            )
        return rows, True

    @staticmethod
    def _sort(rows: QuerySet, sort: str, after: list | None, has_text: bool) -> QuerySet:
        if sort == "relevance" and not has_text:
            sort = "-date"
        if sort == "relevance":
            if after is not None:
                rank, doc_id = after
                rows = rows.filter(Q(rank__lt=rank) | Q(rank=rank, doc_id__gt=doc_id))
            return rows.order_by("-rank", "doc_id")
        if sort == "code":
            if after is not None:
                code, doc_id = after
                rows = rows.filter(
                    Q(reference_code__gt=code) | Q(reference_code=code, doc_id__gt=doc_id)
                )
            return rows.order_by("reference_code", "doc_id")
        descending = sort == "-date"
        if after is not None:
            day, doc_id = after
            if day is None:
                rows = rows.filter(date_start__isnull=True, doc_id__gt=doc_id)
            else:
                beyond = "date_start__lt" if descending else "date_start__gt"
                rows = rows.filter(
                    Q(**{beyond: day})
                    | Q(date_start=day, doc_id__gt=doc_id)
                    | Q(date_start__isnull=True)
                )
        ordered = (
            F("date_start").desc(nulls_last=True)
            if descending
            else F("date_start").asc(nulls_last=True)
        )
        return rows.order_by(ordered, "doc_id")

    @staticmethod
    def _sort_values(sort: str, row: dict) -> list[Any]:
        if sort == "relevance":
            return [row["rank"], row["doc_id"]]
        if sort == "code":
            return [row["reference_code"], row["doc_id"]]
        return [row["date_start"].isoformat() if row["date_start"] else None, row["doc_id"]]

    def search(self, request: SearchRequest, visibility: Visibility) -> SearchResult:
        if connection.vendor == "postgresql":
            outcome = pg_search.search(
                request,
                visibility,
                fields=[*DOC_FIELDS, "record_id"],
                budget=pg_search.Budget(
                    cap=TOTAL_CAP,
                    facet_sample=FACET_SAMPLE,
                    rank_limit=RANK_LIMIT,
                    probe_limit=PROBE_LIMIT,
                ),
            )
            rows, order, facets = outcome.rows, outcome.order, outcome.facets
            total, exact, facets_exact = outcome.total, outcome.exact, outcome.facets_exact
        else:
            rows, order, total, exact, facets = self._search_generic(request, visibility)
            facets_exact = True
        terms = query_terms(request.query) if request.highlight else []
        hits = []
        for row in rows:
            highlights = {}
            for name in ("title", "creator", "keywords", "notes"):
                marked = highlight(row[name], terms, fragment=name == "notes")
                if marked:
                    highlights[name] = [marked]
            hits.append(
                Hit(
                    doc=to_doc(row),
                    score=row.get("rank"),
                    highlights=highlights,
                    sort_values=self._sort_values(order, row),
                )
            )
        next_cursor = None
        if hits and len(hits) == request.size:
            next_cursor = encode_cursor(hits[-1].sort_values)
        return SearchResult(
            total=total,
            total_exact=exact,
            hits=hits,
            facets=facets,
            facets_exact=facets_exact,
            next_cursor=next_cursor,
            page=request.page,
            size=request.size,
        )

    def _search_generic(self, request: SearchRequest, visibility: Visibility):
        """SQLite (a small catalogue): ORM queries, exact facets, totals capped like
        PostgreSQL's. Returns (rows, order, total, exact, facets)."""
        matching, has_text = self._matching(request.query, visibility)
        matching = matching.filter(filters_q(request.filters))
        counted = matching.order_by().values("pk")[: TOTAL_CAP + 1].count()
        total, exact = min(counted, TOTAL_CAP), counted <= TOTAL_CAP
        sort = request.sort
        if sort == "relevance" and not has_text:
            sort = "-date"
        if sort == "relevance":
            # the same rule as PostgreSQL's at this size: beyond the cap, newest first; the
            # cursor's shape tells later pages which order page one used
            broad = not exact
            if request.after is not None:
                broad = not isinstance(request.after[0], int | float)
            if broad:
                sort = "-date"
        if sort in ("date", "-date") and request.after is not None:
            pg_search.cursor_day(request.after[0])  # a bad day is the caller's error
        ordered = self._sort(matching, sort, request.after, has_text)
        fields = [*DOC_FIELDS, "record_id"] + (["rank"] if has_text else [])
        rows = list(ordered.values(*fields)[request.offset : request.offset + request.size])
        return rows, sort, total, exact, self._facets(matching, request.facets)

    @staticmethod
    def _facets(matching: QuerySet, names: tuple[str, ...]) -> dict[str, list[FacetBucket]]:
        facets = {}
        for name in names:
            field = FACET_FIELDS[name]
            buckets = (
                matching.order_by()
                .values(field)
                .annotate(n=Count("id"))
                .order_by("-n", field)[: FACET_LIMITS.get(name, 50)]
            )
            facets[name] = [
                FacetBucket(value=b[field], count=b["n"]) for b in buckets if b[field] is not None
            ]
        return facets

    def suggest(self, prefix: str, visibility: Visibility, *, size: int = 8) -> list[Suggestion]:
        prefix = prefix.strip()
        if not prefix:
            return []
        visible = SearchDocument.objects.filter(visibility_q(visibility))
        by_code = list(
            visible.filter(reference_code__startswith=prefix)
            .order_by("reference_code")
            .values("title", "reference_code", "kind", "record_id")[:size]
        )
        by_title: list[dict] = []
        if len(by_code) < size and connection.vendor == "postgresql":
            by_title = pg_search.suggest_rows(prefix, visibility, size=size, pool=SUGGEST_POOL)
        elif len(by_code) < size and query_terms(prefix):
            matching, _ = self._matching(prefix, visibility)
            by_title = list(
                matching.order_by("-rank", "doc_id").values(
                    "title", "reference_code", "kind", "record_id"
                )[:size]
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
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("DELETE FROM search_document_fts")
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
        if connection.vendor == "postgresql":
            # every row was rewritten: reclaim the old versions (table and GIN index) and
            # refresh the planner's statistics; VACUUM cannot run inside a transaction
            statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            with connection.cursor() as cursor:
                cursor.execute(f"{statement} search_document")
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
        from search.documents import record_models

        removed = 0
        for kind, model in record_models().items():
            # NOT EXISTS plans as a hash anti-join; ``NOT IN (subquery)`` cannot be hashed once
            # the ids outgrow work_mem and becomes quadratic (hours at a million records).
            gone = SearchDocument.objects.filter(kind=kind).exclude(
                Exists(model.objects.filter(pk=OuterRef("record_id")))
            )
            ids = list(gone.values_list("pk", flat=True)[:100_000])
            while ids:
                self._fts_delete(ids)
                removed += SearchDocument.objects.filter(pk__in=ids).delete()[0]
                ids = list(gone.values_list("pk", flat=True)[:100_000])
        return removed
