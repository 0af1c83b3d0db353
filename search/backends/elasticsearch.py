"""Elasticsearch 8.x backend through the official client and ``elasticsearch.dsl``."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from search.backends.base import SearchBackend


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(self, url: str, *, index_prefix: str = "lantai", timeout: float = 5.0) -> None:
        self.url = url
        self.index_prefix = index_prefix
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=1)

    def ping(self) -> dict[str, Any]:
        health = self.client.cluster.health(timeout="2s")
        status = health["status"]
        return {
            "ok": status in ("green", "yellow"),
            "backend": self.name,
            "cluster_status": status,
        }
