"""The database backend on PostgreSQL: a generated ``tsvector`` under a GIN index.

Rows go in with one ``COPY`` per batch; searches and type-ahead are ``search.backends.pg_search``
(the scope-lexeme ``tsquery`` and the bounded probe / sample / walk plan, see
docs/pg-search-planner.md), with the read budget of ``search.backends.database``.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

import search.backends.database as database
from search.analysis import ParsedQuery
from search.backends import pg_search
from search.query import SearchRequest, Visibility
from search.tokens import pg_lexemes, with_lexemes

# title_tokens/body_tokens stay empty here: the vector is built from ``lexemes``
COPY_COLUMNS = (*database.DOC_FIELDS, "record_id", "title_key", "code_key")
EMPTY = ("title_tokens", "body_tokens")


class PostgresSearchBackend(database.DatabaseBackend):
    streams = False  # the row's tokens are its ``pg_lexemes``, nothing else is analysed
    prepare_document = staticmethod(with_lexemes)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """COPY: no per-row SQL compilation."""
        columns = ", ".join(f'"{c}"' for c in (*COPY_COLUMNS, "lexemes", *EMPTY))
        statement = f"COPY search_document ({columns}) FROM STDIN"
        # the driver's own COPY: its errors become Django's (a refused row is a DataError)
        with (
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.cursor.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row([*(row[c] for c in COPY_COLUMNS), pg_lexemes(row["_doc"]), "", ""])

    def _page(
        self, request: SearchRequest, visibility: Visibility, parsed: ParsedQuery
    ) -> database.Page:
        outcome = pg_search.search(
            request,
            visibility,
            parsed=parsed,
            fields=[*database.DOC_FIELDS, "record_id"],
            budget=pg_search.Budget(
                cap=database.TOTAL_CAP,
                facet_sample=database.FACET_SAMPLE,
                rank_limit=database.RANK_LIMIT,
                probe_limit=database.PROBE_LIMIT,
            ),
        )
        return database.Page(
            rows=outcome.rows,
            order=outcome.order,
            total=outcome.total,
            exact=outcome.exact,
            facets=outcome.facets,
            facets_exact=outcome.facets_exact,
        )

    def _suggest_by_words(
        self, parsed: ParsedQuery, visibility: Visibility, size: int, *, prefix: bool
    ) -> list[dict]:
        return pg_search.suggest_rows(parsed, visibility, size=size, pool=database.SUGGEST_POOL)

    def _after_rebuild(self) -> None:
        """Every row was rewritten: reclaim the old versions (table and GIN index) and refresh
        the planner's statistics; VACUUM cannot run inside a transaction."""
        statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            cursor.execute(f"{statement} search_document")
