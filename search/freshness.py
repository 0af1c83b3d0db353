"""While the index is behind: hide what the database no longer lets the caller see.

A change that narrows visibility (a reclassification, closing, withdrawal, deletion) is written
to the outbox in the same transaction as the change; until ``search_sync`` has applied it the
index still holds the old document. ``hide_pending`` looks at the records with pending outbox
rows, reads their current access status, classification and fonds from the database, and adds
those the caller may no longer see (or that are gone) to ``Visibility.hidden``; every backend
excludes them inside the query, so results, totals, facets and suggestions agree with the
database at once. With an empty outbox (the normal case) it costs one query of an empty table;
with a backlog, one bounded read of the outbox and one of the records' access columns.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

from accounts.choices import Classification
from repository.choices import AccessStatus
from search.documents import MODEL_LABELS, doc_id, record_models
from search.models import OutboxEntry
from search.query import Visibility

log = logging.getLogger(__name__)

PENDING_LIMIT = 20_000  # outbox rows read per search (a backlog beyond is logged, not checked)


def hide_pending(visibility: Visibility) -> Visibility:
    """``visibility`` with every pending record that it no longer allows in ``hidden``."""
    pending = OutboxEntry.objects.order_by("id").values_list("model_label", "object_id")[
        : PENDING_LIMIT + 1
    ]
    by_kind: dict[str, set[int]] = defaultdict(set)
    for count, (label, pk) in enumerate(pending):
        if count >= PENDING_LIMIT:
            log.warning("search outbox backlog beyond %d records: not all checked", PENDING_LIMIT)
            break
        kind = MODEL_LABELS.get(label)
        if kind is not None:
            by_kind[kind].add(pk)
    if not by_kind:
        return visibility
    hidden: set[str] = set(visibility.hidden)
    for kind, pks in by_kind.items():
        rows = (
            record_models()[kind]
            .objects.filter(pk__in=pks)
            .values_list("pk", "access_status", "classification", "fonds_id")
        )
        present = set()
        for pk, access, level, fonds in rows:
            present.add(pk)
            current = {
                "doc_id": doc_id(kind, pk),
                "is_public": access == AccessStatus.OPEN and int(level) == Classification.NONE,
                "classification": int(level),
                "fonds_id": fonds,
            }
            if not visibility.allows(current):
                hidden.add(current["doc_id"])
        hidden.update(doc_id(kind, pk) for pk in pks - present)  # deleted meanwhile
    return replace(visibility, hidden=tuple(sorted(hidden)))
