"""Write side of search sync: services call ``enqueue`` inside their transaction.

This is the one place outbox rows are written. A row is marked ``narrows`` when the change
leaves someone unable to see what they could: a deletion, a record that says so itself
(``DescribedRecord.narrowed``: closed, withdrawn, classified higher, moved out of reach since
it was loaded), or a caller that knows more (a volume's items when the volume closed, a page
withheld, replaced or removed). ``search_sync`` drains those rows first.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from search.models import OutboxEntry


def _entry(
    instance: models.Model, *, deleted: bool = False, narrows: bool = False, force: bool = False
) -> OutboxEntry:
    return OutboxEntry(
        model_label=instance._meta.label_lower,
        object_id=instance.pk,
        version=getattr(instance, "version", 0) or 0,
        deleted=deleted,
        force=force,
        narrows=deleted or narrows or bool(getattr(instance, "narrowed", False)),
    )


def enqueue(
    instance: models.Model, *, deleted: bool = False, narrows: bool = False, force: bool = False
) -> None:
    """Record that ``instance`` changed (or was deleted) so the search index catches up.
    ``force``: rewrite its document though its version did not change (its page text did)."""
    _entry(instance, deleted=deleted, narrows=narrows, force=force).save()


def enqueue_many(instances: Iterable[models.Model], *, narrows: bool = False) -> int:
    """Bulk form of ``enqueue`` for multi-row services (imports, opening decisions)."""
    entries = [_entry(i, narrows=narrows) for i in instances]
    OutboxEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
