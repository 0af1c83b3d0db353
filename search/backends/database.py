"""The embedded default: search in the database itself (PostgreSQL full text / SQLite FTS5)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from search.backends.base import SearchBackend


class DatabaseSearchBackend(SearchBackend):
    name = "database"

    def ping(self) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "backend": self.name, "vendor": connection.vendor}
