"""The database backend on SQLite (development, small catalogues): an FTS5 table.

``search_document_fts`` (migration 0004) holds each row's token streams (``search.analysis``:
title and body bigrams, their characters, pinyin syllables and initials) under the row's id; it
is written beside ``search_document``. Each clause of the parsed query is one FTS5 match (its
minimum-should-match counted in SQL, a year alternative as a column test), visibility and
filters are ``WHERE`` clauses of the same ORM query. Relevance is ``search.ranking.score`` (the
same rules as PostgreSQL's ``ts_rank_cd`` ranking: title over body, phrase over scattered,
whole title, exact code, recency) plus FTS5's bm25 as a fine tie-break; facets are exact and
totals are capped like PostgreSQL's.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, F, FloatField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

import search.backends.database as database
from search import ranking
from search.analysis import Clause, ParsedQuery, is_cjk, is_pinyin, is_prefix
from search.backends import pg_search
from search.models import SearchDocument
from search.query import FACET_FIELDS, FacetBucket, SearchRequest, Visibility

FACET_LIMITS = {"year": 200}
CHUNK = 500  # ids per DELETE (SQLite's bound-parameter limit)


FTS = "SELECT rowid FROM search_document_fts WHERE search_document_fts MATCH %s"
BM25 = "bm25(search_document_fts, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0)"


def _columns(term: str) -> str:
    if is_pinyin(term):
        return "initials" if term.startswith("^^") else "pinyin"
    if is_cjk(term) and len(term) == 1:
        return "title_chars body_chars"
    return "title body"


def _string(term: str) -> str:
    bare = term.lstrip("^").rstrip("*")
    quoted = '"' + bare.replace('"', '""') + '"'
    return quoted + ("*" if is_prefix(term) else "")


def fts5_term(term: str) -> str:
    return f"{{{_columns(term)}}} : {_string(term)}"


def fts5_phrase(terms: tuple[str, ...], columns: str = "title_chars body_chars") -> str:
    """Terms standing together, in order (FTS5 phrases: ``"a" + "b"``)."""
    if is_pinyin(terms[0]):
        columns = _columns(terms[0])
    return f"{{{columns}}} : " + " + ".join(_string(t) for t in terms)


def fts5_query(terms: list[str]) -> str:
    """Every term (AND)."""
    return " AND ".join(fts5_term(t) for t in terms)


def clause_sql(clause: Clause) -> tuple[str, list]:
    """One clause as SQL on ``search_document`` (its FTS5 matches, counted when only some of
    its ``should`` terms need to match)."""
    if clause.any_of:
        expr = " OR ".join(f"({fts5_phrase(alt)})" for alt in clause.any_of)
        return f"search_document.id IN ({FTS})", [expr]
    if clause.exact:
        expr = " AND ".join([*(fts5_term(t) for t in clause.must), fts5_phrase(clause.sequence)])
        return f"search_document.id IN ({FTS})", [expr]
    parts = [fts5_term(t) for t in clause.must]
    if clause.should:
        parts.append("(" + " OR ".join(fts5_term(t) for t in clause.should) + ")")
    sql, params = f"search_document.id IN ({FTS})", [" AND ".join(parts)]
    if 1 < clause.minimum < len(clause.should):
        counted = " + ".join(f"(search_document.id IN ({FTS}))" for _ in clause.should)
        sql += f" AND ({counted}) >= %s"
        params += [fts5_term(t) for t in clause.should] + [clause.minimum]
    elif clause.minimum == len(clause.should) > 1:
        sql, params = f"search_document.id IN ({FTS})", [fts5_query(list(clause.terms))]
    if clause.year is not None:
        sql = f"(({sql}) OR search_document.year = %s)"
        params.append(clause.year)
    return sql, params


def query_sql(parsed: ParsedQuery) -> tuple[str, list]:
    """Every clause, none of the excluded ones; or the exact (compact) code."""
    parts, params = [], []
    for clause in parsed.clauses:
        sql, clause_params = clause_sql(clause)
        parts.append(f"({sql})")
        params += clause_params
    for clause in parsed.excluded:
        sequence = clause.sequence
        expr = fts5_phrase(sequence) if len(sequence) > 1 else fts5_term(clause.must[0])
        parts.append(f"search_document.id NOT IN ({FTS})")
        params.append(expr)
    sql = " AND ".join(parts) or "1"
    if parsed.code:
        sql = f"(({sql}) OR search_document.code_key = %s)"
        params.append(parsed.code)
    return sql, params


class SQLiteSearchBackend(database.DatabaseBackend):
    # --- writes --------------------------------------------------------------------------
    def _insert(self, rows: list[dict[str, Any]]) -> None:
        created = SearchDocument.objects.bulk_create(
            [SearchDocument(**database.model_values(r)) for r in rows], batch_size=database.BATCH
        )
        streams = []
        for record, row in zip(created, rows, strict=True):
            tokens = row["_analysed"]
            streams.append(
                (
                    record.pk,
                    tokens.title,
                    tokens.title_chars,
                    " ".join(tokens.body),
                    " ".join(tokens.body_chars),
                    " ".join(tokens.pinyin),
                    " ".join(tokens.initials),
                )
            )
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO search_document_fts"
                " (rowid, title, title_chars, body, body_chars, pinyin, initials)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                streams,
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
    def _matching(self, parsed: ParsedQuery, visibility: Visibility) -> tuple[QuerySet, bool]:
        """Visible rows matching ``parsed``, annotated with ``bm25`` (higher is better)."""
        rows = SearchDocument.objects.filter(database.visibility_q(visibility))
        if parsed.empty:
            return rows, False
        where, params = query_sql(parsed)
        terms = parsed.terms()
        rows = rows.extra(where=[where], params=params).annotate(  # noqa: S610 - built above
            bm25=Coalesce(
                RawSQL(  # noqa: S611 - the SQL is constant, the match expression a parameter
                    f"(SELECT -{BM25} FROM search_document_fts"  # noqa: S608
                    " WHERE search_document_fts MATCH %s"
                    " AND search_document_fts.rowid = search_document.id)",
                    [" OR ".join(fts5_term(t) for t in terms)],
                    output_field=FloatField(),
                ),
                Value(0.0),
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

    def _page(self, request: SearchRequest, visibility: Visibility, parsed: ParsedQuery):
        """ORM queries, exact facets, totals capped like PostgreSQL's."""
        matching, has_text = self._matching(parsed, visibility)
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
        facets = self._facets(matching, request.facets)
        fields = [*database.DOC_FIELDS, "record_id"]
        if sort == "relevance":
            rows = self._ranked(matching, parsed, request, fields)
            return database.Page(rows, sort, total, exact, facets)
        if sort in ("date", "-date") and request.after is not None:
            pg_search.cursor_day(request.after[0])  # a bad day is the caller's error
        ordered = self._sort(matching, sort, request.after, has_text)
        rows = list(ordered.values(*fields)[request.offset : request.offset + request.size])
        return database.Page(rows, sort, total, exact, facets)

    @staticmethod
    def _ranked(matching: QuerySet, parsed: ParsedQuery, request: SearchRequest, fields):
        """Every match (at most the cap) scored by ``search.ranking.score``, then the page."""
        scored = []
        for row in matching.order_by().values(*ranking.ROW_FIELDS, "bm25"):
            scored.append((-ranking.score(parsed, row, engine=row["bm25"]), row["doc_id"], row))
        scored.sort(key=lambda entry: entry[:2])
        if request.after is not None:
            rank, doc_id = request.after
            scored = [e for e in scored if (e[0], e[1]) > (-rank, doc_id)]
        page = scored[request.offset : request.offset + request.size]
        by_id = {
            row["doc_id"]: row
            for row in SearchDocument.objects.filter(doc_id__in=[e[1] for e in page]).values(
                *fields
            )
        }
        rows = []
        for negative, doc_id, _ in page:
            rows.append(by_id[doc_id] | {"rank": -negative})
        return rows

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

    def _suggest_by_words(
        self, parsed: ParsedQuery, visibility: Visibility, size: int, *, prefix: bool
    ) -> list[dict]:
        matching, _ = self._matching(parsed, visibility)
        rows = list(
            matching.order_by().values(*ranking.ROW_FIELDS, "bm25", "kind", "record_id")[
                : database.SUGGEST_POOL
            ]
        )
        rows.sort(key=lambda row: (-ranking.score(parsed, row, engine=row["bm25"]), row["doc_id"]))
        return rows[:size]
