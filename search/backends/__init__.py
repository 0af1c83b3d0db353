"""Pick the search backend from settings: ``ELASTICSEARCH_URL`` set → Elasticsearch."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings

from search.backends.base import SearchBackend


@cache
def get_backend() -> SearchBackend:
    if settings.ELASTICSEARCH_URL:
        from search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(
            settings.ELASTICSEARCH_URL, index_prefix=settings.ELASTICSEARCH_INDEX_PREFIX
        )
    from search.backends.database import DatabaseSearchBackend

    return DatabaseSearchBackend()


def check_search_backend() -> dict[str, Any]:
    return get_backend().ping()
