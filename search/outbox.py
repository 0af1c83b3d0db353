"""Write side of search sync: services call ``enqueue`` inside their transaction.

This is the one place outbox rows are written. A row is marked ``narrows`` when the change
leaves someone unable to see what they could: a deletion, a record that says so itself
(``DescribedRecord.narrowed``: closed, withdrawn, classified higher, moved out of reach since
it was loaded), or a caller that knows more (a bulk ``RecordQuerySet.update(narrows=True)``, a
page withheld, replaced or removed). ``search_sync`` drains those rows first. A volume whose
door columns changed brings its items along (``_items_follow``): their documents carry it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from repository.models import Item, Volume
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
    entry = _entry(instance, deleted=deleted, narrows=narrows, force=force)
    entry.save()
    _items_follow([(instance, entry)])


def enqueue_many(instances: Iterable[models.Model], *, narrows: bool = False) -> int:
    """Bulk form of ``enqueue`` for multi-row services (imports, opening decisions)."""
    instances = list(instances)
    entries = [_entry(i, narrows=narrows) for i in instances]
    OutboxEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries) + _items_follow(list(zip(instances, entries, strict=True)))


def _items_follow(changed: list[tuple[models.Model, OutboxEntry]]) -> int:
    """An item's document carries its volume's part of the record door (``is_public``). When
    a volume's door columns changed (``DescribedRecord.audience_changed``) or the change
    narrows, its items are rewritten too (``force``: their own versions did not change, so an
    ordinary row would be skipped as stale and the index would keep them public), narrowing
    as the volume's change does."""
    volumes = [
        (volume, entry)
        for volume, entry in changed
        if isinstance(volume, Volume)
        and not entry.deleted
        and (entry.narrows or getattr(volume, "audience_changed", False))
    ]
    entries = [
        _entry(item, narrows=entry.narrows, force=True)
        for volume, entry in volumes
        for item in Item.objects.filter(volume_id=volume.pk).only("pk", "version")
    ]
    OutboxEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
