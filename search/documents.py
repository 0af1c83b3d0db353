"""Search documents for volumes and items, and what every backend indexes of them.

A document is a flat dict of plain values, built from a record and its fonds/category (and its
store room when the record is shelved). Every backend stores the same dict: Elasticsearch as a
document in the ``records`` alias, the database backend as a ``SearchDocument`` row.

What each backend indexes of a document (its token streams, the PostgreSQL ``tsvector``) is
``search.tokens``: pure Python, so that a rebuild's worker processes can build it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models

from accounts.choices import Classification
from repository.choices import PUBLIC_STATUSES
from repository.models import Item, Volume
from search import analysis
from search.models import PageText

KINDS = ("item", "volume")
MODEL_LABELS = {"repository.item": "item", "repository.volume": "volume"}

MAX_TOKENS = analysis.MAX_TOKENS


def tokenize(text: str) -> list[str]:
    """The bigram stream of ``text`` (CJK bigrams, lone characters, lower-case words)."""
    return analysis.stream(text)


def query_terms(text: str) -> list[str]:
    """Every positive term of a user query, distinct, in order, capped at ``MAX_TOKENS``."""
    return analysis.parse_query(text).terms()[:MAX_TOKENS]


def doc_id(kind: str, pk: int) -> str:
    return f"{kind}-{pk}"


def split_doc_id(value: str) -> tuple[str, int]:
    kind, _, pk = value.partition("-")
    return kind, int(pk)


def record_models() -> dict[str, type[models.Model]]:
    return {"item": Item, "volume": Volume}


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


def record_queryset(kind: str) -> models.QuerySet:
    """Records of ``kind`` with everything a document needs in one query."""
    model = record_models()[kind]
    related = ["fonds", "category"]
    if _has_field(model, "position"):  # shelf locations (repository issue) are optional here
        related.append("position__room")
    if _has_field(model, "volume"):  # an item is public only if its volume is too
        related.append("volume")
    return model.objects.select_related(*related)


def _room_code(record: models.Model) -> str:
    position = getattr(record, "position", None)
    room = getattr(position, "room", None) if position is not None else None
    return getattr(room, "code", "") or ""


def year_of(record: models.Model) -> int | None:
    if record.date_start:
        return record.date_start.year
    return record.filing_year or None


def page_texts(kind: str, pks: Iterable[int]) -> dict[int, str]:
    """The text (OCR or corrected) of the *released* digitised pages of these records, by
    record, in page order. A withheld page (opened in part) never reaches the index, so no
    search, total, facet, snippet or suggestion can show its words to anyone; staff open the
    page itself."""
    field = f"page__{kind}_id"
    rows = (
        PageText.objects.filter(
            **{f"{field}__in": list(pks)},
            status=PageText.Status.DONE,
            page__withheld=False,
        )
        .exclude(text="")
        .order_by(field, "page__page_number")
        .values_list(field, "text")
    )
    texts: dict[int, list[str]] = {}
    for pk, text in rows:
        texts.setdefault(pk, []).append(text)
    return {pk: "\n".join(parts) for pk, parts in texts.items()}


def volume_door(status=None, classification=None, fonds_id=None) -> dict[str, int | None]:
    """An item's volume's part of the record door, as its document carries it
    (``repository.querysets.record_door``: an item passes only if its volume passes too).

    ``volume_classification`` and ``volume_fonds_id`` are the 密级 and fonds of the volume when
    its own columns keep it from the public; ``None`` when there is no volume or the public may
    see it (open or open in part, unclassified: it lets everyone through). Staff then see the
    item only up to the volume's 密级 and with a permission on the volume's fonds as well
    (``search.query.Visibility.allows`` and each backend's visibility clause)."""
    if fonds_id is None or _row_public(status, classification):
        return {"volume_classification": None, "volume_fonds_id": None}
    return {"volume_classification": int(classification), "volume_fonds_id": fonds_id}


def build_document(record: models.Model, *, page_text: str | None = None) -> dict[str, Any]:
    """The search document of a volume or item (same dict for every backend)."""
    kind = MODEL_LABELS[record._meta.label_lower]
    if page_text is None:
        page_text = page_texts(kind, [record.pk]).get(record.pk, "")
    volume = getattr(record, "volume", None)  # items only
    door = (volume.access_status, volume.classification, volume.fonds_id) if volume else ()
    return {
        "doc_id": doc_id(kind, record.pk),
        "kind": kind,
        "pk": record.pk,
        "reference_code": record.reference_code,
        "title": record.title,
        "creator": record.creator or "",
        "keywords": record.keywords or "",
        "notes": record.notes or "",
        "fonds_id": record.fonds_id,
        "fonds_code": record.fonds.code,
        "category_id": record.category_id,
        "category_code": record.category.code,
        "category_name": record.category.name,
        "year": year_of(record),
        "date_start": record.date_start.isoformat() if record.date_start else None,
        "date_end": record.date_end.isoformat() if record.date_end else None,
        "retention": record.retention,
        "classification": int(record.classification),
        "access_status": record.access_status,
        "carrier": record.carrier,
        "room": _room_code(record),
        # The record door's rule (repository.models.DescribedRecord.is_public): open or open in
        # part, unclassified, and for an item in a volume the volume as well.
        "is_public": record.is_public,
        **volume_door(*door),
        "version": int(record.version or 0),
        "page_text": page_text,
    }


ROW_FIELDS = (
    "pk",
    "reference_code",
    "title",
    "creator",
    "keywords",
    "notes",
    "fonds_id",
    "fonds__code",
    "category_id",
    "category__code",
    "category__name",
    "date_start",
    "date_end",
    "filing_year",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "version",
)


def _row_public(status, classification) -> bool:
    return status in PUBLIC_STATUSES and int(classification) == Classification.NONE


def document_from_row(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """``build_document`` from a ``.values()`` row (no model instances: the bulk path)."""
    start = row["date_start"]
    classification = int(row["classification"])
    return {
        "doc_id": f"{kind}-{row['pk']}",
        "kind": kind,
        "pk": row["pk"],
        "reference_code": row["reference_code"],
        "title": row["title"],
        "creator": row["creator"] or "",
        "keywords": row["keywords"] or "",
        "notes": row["notes"] or "",
        "fonds_id": row["fonds_id"],
        "fonds_code": row["fonds__code"],
        "category_id": row["category_id"],
        "category_code": row["category__code"],
        "category_name": row["category__name"],
        "year": start.year if start else (row["filing_year"] or None),
        "date_start": start.isoformat() if start else None,
        "date_end": row["date_end"].isoformat() if row["date_end"] else None,
        "retention": row["retention"],
        "classification": classification,
        "access_status": row["access_status"],
        "carrier": row["carrier"],
        "room": row.get("position__room__code") or "",
        "is_public": _row_public(row["access_status"], classification)
        and (
            row.get("volume_id") is None
            or _row_public(row["volume__access_status"], row["volume__classification"])
        ),
        **volume_door(
            row.get("volume__access_status"),
            row.get("volume__classification"),
            row.get("volume__fonds_id"),
        ),
        "version": int(row["version"] or 0),
        "page_text": "",
    }


def iter_documents(kind: str, *, chunk_size: int = 2000, **filters: Any) -> Iterator[dict]:
    """Stream documents from a chunked (server-side on PostgreSQL) cursor: flat memory."""
    model = record_models()[kind]
    fields = list(ROW_FIELDS)
    if _has_field(model, "position"):
        fields.append("position__room__code")
    if _has_field(model, "volume"):
        fields += [
            "volume_id",
            "volume__access_status",
            "volume__classification",
            "volume__fonds_id",
        ]
    rows = model.objects.filter(**filters).order_by().values(*fields)
    chunk: list[dict[str, Any]] = []
    for row in rows.iterator(chunk_size=chunk_size):
        chunk.append(document_from_row(kind, row))
        if len(chunk) >= chunk_size:
            yield from _with_page_text(kind, chunk)
            chunk = []
    yield from _with_page_text(kind, chunk)


def _with_page_text(kind: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    texts = page_texts(kind, [d["pk"] for d in docs]) if docs else {}
    for doc in docs:
        doc["page_text"] = texts.get(doc["pk"], "")
    return docs


def documents_for(kind: str, pks: Iterable[int]) -> dict[int, dict]:
    """Documents of the given records that still exist, by pk."""
    pks = list(pks)
    texts = page_texts(kind, pks)
    return {
        r.pk: build_document(r, page_text=texts.get(r.pk, ""))
        for r in record_queryset(kind).filter(pk__in=pks)
    }


TEXT_FIELDS = ("reference_code", "title", "creator", "keywords", "notes")
