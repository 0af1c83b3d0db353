"""Search documents for volumes and items, and the one tokeniser every backend agrees with.

A document is a flat dict of plain values, built from a record and its fonds/category (and its
store room when the record is shelved). Every backend stores the same dict: Elasticsearch as a
document in the ``records`` alias, the database backend as a ``SearchDocument`` row.

Tokenising: Chinese is cut into overlapping character bigrams (``档案馆`` → ``档案 案馆``; a single
isolated character stays a unigram), Latin letters and digits into lower-case words split on
anything else. That is what Elasticsearch's built-in ``cjk_width`` + ``lowercase`` +
``cjk_bigram`` filters do over the ``standard`` tokenizer, so both backends match alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import models

from accounts.choices import Classification
from repository.choices import PUBLIC_STATUSES
from repository.models import Item, Volume

KINDS = ("item", "volume")
MODEL_LABELS = {"repository.item": "item", "repository.volume": "volume"}

# CJK Unified Ideographs (+ extension A), compatibility ideographs, kana and hangul syllables.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_CJK_RE = re.compile(rf"[{_CJK}]")

MAX_TOKENS = 64  # a query never expands beyond this many terms


def tokenize(text: str) -> list[str]:
    """CJK bigrams plus lower-case Latin/digit words, in order (duplicates kept)."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text).lower()  # full-width → half-width (cjk_width)
    tokens: list[str] = []
    for run in _TOKEN_RE.findall(text):
        if _CJK_RE.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


def query_terms(text: str) -> list[str]:
    """Distinct terms of a user query, in order, capped at ``MAX_TOKENS``."""
    seen: dict[str, None] = {}
    for token in tokenize(text):
        seen.setdefault(token, None)
        if len(seen) >= MAX_TOKENS:
            break
    return list(seen)


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


def build_document(record: models.Model) -> dict[str, Any]:
    """The search document of a volume or item (same dict for every backend)."""
    kind = MODEL_LABELS[record._meta.label_lower]
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
        "version": int(record.version or 0),
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
        "version": int(row["version"] or 0),
    }


def iter_documents(kind: str, *, chunk_size: int = 2000, **filters: Any) -> Iterator[dict]:
    """Stream documents from a chunked (server-side on PostgreSQL) cursor: flat memory."""
    model = record_models()[kind]
    fields = list(ROW_FIELDS)
    if _has_field(model, "position"):
        fields.append("position__room__code")
    if _has_field(model, "volume"):
        fields += ["volume_id", "volume__access_status", "volume__classification"]
    rows = model.objects.filter(**filters).order_by().values(*fields)
    for row in rows.iterator(chunk_size=chunk_size):
        yield document_from_row(kind, row)


def documents_for(kind: str, pks: Iterable[int]) -> dict[int, dict]:
    """Documents of the given records that still exist, by pk."""
    return {r.pk: build_document(r) for r in record_queryset(kind).filter(pk__in=list(pks))}


TEXT_FIELDS = ("reference_code", "title", "creator", "keywords", "notes")
