"""Pick the search backend from settings: ``ELASTICSEARCH_URL`` set → Elasticsearch, else the
database backend of the connection's vendor (``search.backends.postgres`` or ``.sqlite``, both on
the shared ``search.backends.database``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from search.backends.base import SearchBackend, SearchUnavailable
from search.backends.database import DatabaseBackend
from search.backends.elasticsearch import ElasticsearchBackend
from search.backends.postgres import PostgresSearchBackend
from search.backends.sqlite import SQLiteSearchBackend

__all__ = [
    "SearchBackend",
    "SearchUnavailable",
    "check_search_backend",
    "database_backend",
    "get_backend",
    "use_backend",
]

_overrides: list[SearchBackend] = []
DATABASE_BACKENDS: dict[str, type[DatabaseBackend]] = {
    "postgresql": PostgresSearchBackend,
    "sqlite": SQLiteSearchBackend,
}


def get_backend() -> SearchBackend:
    """The configured backend (or the one a test pushed with ``use_backend``)."""
    if _overrides:
        return _overrides[-1]
    return _configured_backend()


@contextmanager
def use_backend(backend: SearchBackend) -> Iterator[SearchBackend]:
    """Serve ``backend`` from ``get_backend`` inside the block (tests, benchmarks)."""
    _overrides.append(backend)
    try:
        yield backend
    finally:
        _overrides.remove(backend)


@cache
def _configured_backend() -> SearchBackend:
    if settings.ELASTICSEARCH_URL:
        return ElasticsearchBackend(
            # one node or a comma-separated list of nodes (read here, so a changed setting and
            # ``get_backend.cache_clear()`` reach it)
            [host.strip() for host in settings.ELASTICSEARCH_URL.split(",") if host.strip()],
            index_prefix=settings.ELASTICSEARCH_INDEX_PREFIX,
            timeout=settings.ELASTICSEARCH_TIMEOUT,
            replicas=settings.ELASTICSEARCH_REPLICAS,
            **settings.ELASTICSEARCH_OPTIONS,
        )
    return database_backend()


def database_backend() -> DatabaseBackend:
    """The database backend for ``connection.vendor``."""
    try:
        return DATABASE_BACKENDS[connection.vendor]()
    except KeyError:
        raise ImproperlyConfigured(
            f"no search backend for the {connection.vendor} database; "
            "use PostgreSQL or SQLite, or set ELASTICSEARCH_URL"
        ) from None


get_backend.cache_clear = _configured_backend.cache_clear  # type: ignore[attr-defined]


def check_search_backend() -> dict[str, Any]:
    return get_backend().ping()
