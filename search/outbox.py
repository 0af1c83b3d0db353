"""Write side of search sync: services call ``enqueue`` inside their transaction."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from search.models import OutboxEntry


def enqueue(instance: models.Model, *, deleted: bool = False) -> None:
    """Record that ``instance`` changed (or was deleted) so the search index catches up."""
    OutboxEntry.objects.create(
        model_label=instance._meta.label_lower,
        object_id=instance.pk,
        version=getattr(instance, "version", 0) or 0,
        deleted=deleted,
    )


def enqueue_many(instances: Iterable[models.Model]) -> int:
    """Bulk form of ``enqueue`` for multi-row services (imports, opening decisions)."""
    entries = [
        OutboxEntry(
            model_label=i._meta.label_lower,
            object_id=i.pk,
            version=getattr(i, "version", 0) or 0,
        )
        for i in instances
    ]
    OutboxEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
