"""The search backend interface (the Wagtail pattern): one API, several engines."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class SearchBackend(ABC):
    """A search engine behind Lantai's one search API."""

    name: str = "base"

    @abstractmethod
    def ping(self) -> dict[str, Any]:
        """Answer ``{"ok": True, ...}`` when the engine can serve queries, else raise."""
