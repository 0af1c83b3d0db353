"""The database backend on SQLite (development, small catalogues): an FTS5 table.

``search_document_fts`` (migration 0002) holds each row's title and body tokens under the row's
id; it is written beside ``search_document``. Visibility and filters are ``WHERE`` clauses of the
same ORM query, relevance is FTS5's bm25 (title weighted 3) plus the exact-code boost, facets
are exact and totals are capped like PostgreSQL's.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

import search.backends.database as database
from search.backends import pg_search
from search.documents import query_terms
from search.models import SearchDocument
from search.query import FACET_FIELDS, FacetBucket, SearchRequest, Visibility

FACET_LIMITS = {"year": 200}
CHUNK = 500  # ids per DELETE (SQLite's bound-parameter limit)


def fts5_query(terms: list[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


class SQLiteSearchBackend(database.DatabaseBackend):
    # --- writes --------------------------------------------------------------------------
    def _insert(self, rows: list[dict[str, Any]]) -> None:
        created = SearchDocument.objects.bulk_create(
            [SearchDocument(**r) for r in rows], batch_size=database.BATCH
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO search_document_fts (rowid, title, body) VALUES (%s, %s, %s)",
                [(r.pk, r.title_tokens, r.body_tokens) for r in created],
            )

    def _forget(self, ids: list[int]) -> None:
        with connection.cursor() as cursor:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                marks = ",".join("%s" for _ in chunk)
                cursor.execute(f"DELETE FROM search_document_fts WHERE rowid IN ({marks})", chunk)  # noqa: S608

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_document_fts")
        super().clear()

    # --- reads ---------------------------------------------------------------------------
    def _matching(self, query: str, visibility: Visibility) -> tuple[QuerySet, bool]:
        """Visible rows matching ``query``, annotated with ``rank`` (higher is better)."""
        rows = SearchDocument.objects.filter(database.visibility_q(visibility))
        terms = query_terms(query)
        if not terms:
            return rows, False
        code = query.strip()
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
                [code, pg_search.CODE_BOOST],
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

    def _page(self, request: SearchRequest, visibility: Visibility) -> database.Page:
        """ORM queries, exact facets, totals capped like PostgreSQL's."""
        matching, has_text = self._matching(request.query, visibility)
        matching = matching.filter(database.filters_q(request.filters))
        cap = database.TOTAL_CAP
        counted = matching.order_by().values("pk")[: cap + 1].count()
        total, exact = min(counted, cap), counted <= cap
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
        fields = [*database.DOC_FIELDS, "record_id"] + (["rank"] if has_text else [])
        rows = list(ordered.values(*fields)[request.offset : request.offset + request.size])
        return database.Page(rows, sort, total, exact, self._facets(matching, request.facets))

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

    def _suggest_by_title(self, prefix: str, visibility: Visibility, size: int) -> list[dict]:
        if not query_terms(prefix):
            return []
        matching, _ = self._matching(prefix, visibility)
        return list(
            matching.order_by("-rank", "doc_id").values(
                "title", "reference_code", "kind", "record_id"
            )[:size]
        )
