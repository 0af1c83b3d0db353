"""The search backend interface (the Wagtail pattern): one API, several engines.

Every backend stores the documents of ``search.documents.build_document`` and answers the
``search.query`` model. Writes carry the record's ``version``: a write never replaces a newer
version already in the index (Elasticsearch external versioning; a version column in the
database backend), so the outbox drainer, the reindexer and the reconciler may race safely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.translation import gettext as _

from search.analysis import CJK_RE, ParsedQuery, code_key
from search.query import SearchInputError, SearchRequest, SearchResult, Suggestion, Visibility


def effective_request(request: SearchRequest, parsed: ParsedQuery) -> SearchRequest:
    """``request`` with the year range typed into the query (``1990-1995 照片``) as its year
    filter, narrowed by any year filter given as well."""
    if parsed.year_from is None:
        return request
    filters = dict(request.filters)
    low, high = filters.get("year_from"), filters.get("year_to")
    filters["year_from"] = parsed.year_from if low is None else max(low, parsed.year_from)
    filters["year_to"] = parsed.year_to if high is None else min(high, parsed.year_to)
    return replace(request, filters=filters)


def require_words(parsed: ParsedQuery) -> None:
    """A query of ``-word`` exclusions only (``-会议``) is refused with a reason, by every
    backend alike (every door answers 400). "Everything you may see but X" cannot be answered
    within the database backend's budget: when X is in most records the few that are left can
    only be found by reading the whole catalogue (PostgreSQL plans a sequential scan of
    ``search_document``; see docs/pg-search-planner.md). Type-ahead suggests nothing for it."""
    if parsed.excludes_only:
        raise SearchInputError(
            {
                "q": [
                    _(
                        "Give at least one word to search for: a minus word (-word) only "
                        "leaves out records that the other words find."
                    )
                ]
            }
        )


def suggest_code(prefix: str) -> str:
    """The compact code a type-ahead prefix may begin (``j012-ks`` → ``j012ks``), or ""."""
    return "" if CJK_RE.search(prefix) else code_key(prefix)


class SearchUnavailable(Exception):
    """The engine cannot be reached or refused the request (searching shows a degraded notice)."""


@dataclass
class BulkResult:
    indexed: int = 0
    deleted: int = 0
    skipped_stale: int = 0  # an equal or newer version was already there
    errors: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # doc ids the engine refused (not stale)


@dataclass
class ReindexResult:
    target: str
    streamed: int
    counted: int
    expected: int
    switched: bool
    caught_up: int = 0
    seconds: float = 0.0


class SearchBackend(ABC):
    """A search engine behind Lantai's one search API."""

    name: str = "base"
    # A module-level (picklable) function that does a document's analysis ahead of its write,
    # in a rebuild's worker processes (``search.parallel``); None when there is none to do.
    prepare_document: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @abstractmethod
    def ping(self) -> dict[str, Any]:
        """Answer ``{"ok": True, ...}`` when the engine can serve queries, else raise."""

    @abstractmethod
    def setup(self) -> None:
        """Create the index if it does not exist (idempotent)."""

    @abstractmethod
    def index_documents(self, docs: Iterable[dict[str, Any]], *, force: bool = False) -> BulkResult:
        """Add or replace documents, unless the index holds an equal or newer version (with
        ``force``: a strictly newer one; the document changed without its record, e.g. the
        text of its pages)."""

    @abstractmethod
    def delete_documents(self, items: Iterable[tuple[str, int]]) -> BulkResult:
        """Delete ``(doc_id, version)`` pairs unless the index holds a newer version."""

    @abstractmethod
    def search(self, request: SearchRequest, visibility: Visibility) -> SearchResult:
        """Run a query with the visibility rules as filter clauses."""

    @abstractmethod
    def suggest(self, prefix: str, visibility: Visibility, *, size: int = 8) -> list[Suggestion]:
        """Type-ahead on titles and reference codes, visibility enforced."""

    @abstractmethod
    def versions(self, doc_ids: Iterable[str]) -> dict[str, int]:
        """Indexed versions of the given documents (missing ones are absent)."""

    @abstractmethod
    def iter_versions(self) -> Iterator[tuple[str, int]]:
        """Every ``(doc_id, version)`` in the index (for reconcile)."""

    @abstractmethod
    def count(self) -> int:
        """Number of documents in the live index."""

    def refresh(self) -> None:
        """Make recent writes searchable now (tests, reindex)."""
        return None

    def clear(self) -> None:
        """Drop every document and index (tests)."""
        return None

    @abstractmethod
    def rebuild(self, docs: Iterable[dict[str, Any]], *, expected: int, progress=None):
        """Build a complete new index from ``docs`` and make it live when counts match."""
