"""The search outbox as the catalogue sees it: call ``enqueue`` inside the service's transaction.

The table (``search.OutboxEntry``) and the writer (``search.outbox``) belong to search, which
sits above repository; search registers its writer on the hooks in ``SearchConfig.ready()``, so
the row is still written in the caller's transaction. Without the search app nothing is
recorded (nothing would read it).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from core import hooks


def enqueue(
    instance: models.Model, *, deleted: bool = False, narrows: bool = False, pages: bool = False
) -> None:
    """Record that ``instance`` changed (or was deleted) so the search index catches up.
    ``narrows``: the change hides something from someone that the record's own columns do not
    show; deletions and records that narrowed themselves are found anyway. ``pages``: the text
    of its released pages changed (a page withheld or released)."""
    hooks.outbox_enqueue(instance, deleted=deleted, narrows=narrows, force=pages)


def enqueue_many(instances: Iterable[models.Model], *, narrows: bool = False) -> int:
    """Bulk form of ``enqueue`` for multi-row services (imports, opening decisions)."""
    return hooks.outbox_enqueue_many(instances, narrows=narrows)
