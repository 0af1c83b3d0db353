"""While the index is behind: hide what the database no longer lets the caller see.

A change that narrows visibility (a reclassification, closing, withdrawal, deletion) is written
to the outbox in the same transaction as the change; until ``search_sync`` has applied it the
index still holds the old document. ``hide_pending`` asks the database, per record kind, for
the records with pending outbox rows that the record door (``RecordQuerySet.hidden_from``) now
keeps from the caller (the planner starts from the records: index lookups into the outbox) and
for pending deletions (narrowing rows, through their index); and once for records whose page
text lost words (a page removed, replaced or withheld: hidden from everyone until drained).
Only those ids come back (few: pending edits of records the caller still sees are filtered out
inside the database), whatever the size of the backlog. They go into ``Visibility.hidden``;
every backend excludes them inside the query, so results, totals, facets and suggestions agree
with the database at once. With an empty outbox (the normal case) it costs one query of an
empty table.
"""

from __future__ import annotations

from dataclasses import replace

from django.db.models import Exists, OuterRef

from search.documents import MODEL_LABELS, doc_id, record_models
from search.models import OutboxEntry
from search.query import Visibility


def hide_pending(visibility: Visibility, user) -> Visibility:
    """``visibility`` (``user``'s) with every pending record that ``user`` may no longer see,
    or that is gone, in ``hidden``."""
    if not OutboxEntry.objects.exists():
        return visibility
    hidden: set[str] = set(visibility.hidden)
    for kind, model in record_models().items():
        pending = OutboxEntry.objects.filter(model_label=model._meta.label_lower)
        now_hidden = (
            model.objects.filter(pk__in=pending.values("object_id"))
            .hidden_from(user)
            .values_list("pk", flat=True)
        )
        # A deletion is always written as a deleted (so narrowing) row: only those are asked
        # about, through the drain index, never the whole backlog.
        gone = (
            pending.filter(narrows=True)
            .filter(~Exists(model.objects.filter(pk=OuterRef("object_id"))))
            .values_list("object_id", flat=True)
            .distinct()
        )
        hidden.update(doc_id(kind, pk) for pk in now_hidden)
        hidden.update(doc_id(kind, pk) for pk in gone)
    # A page removed, replaced or withheld: the indexed document still holds words nobody may
    # find any more, so the record is left out for everyone until the row has drained (it
    # drains first: a moment while ``search_sync`` runs).
    pages = (
        OutboxEntry.objects.filter(narrows=True, force=True)
        .values_list("model_label", "object_id")
        .distinct()
    )
    hidden.update(doc_id(MODEL_LABELS[label], pk) for label, pk in pages if label in MODEL_LABELS)
    if len(hidden) == len(visibility.hidden):
        return visibility
    return replace(visibility, hidden=tuple(sorted(hidden)))
