"""Search documents for volumes and items, and what every backend indexes of them.

A document is a flat dict of plain values, built from a record and its fonds/category (and its
store room when the record is shelved). Every backend stores the same dict: Elasticsearch as a
document in the ``records`` alias, the database backend as a ``SearchDocument`` row.

Tokens come from ``search.analysis`` (one analysis at index and query time on every backend):
``analysed`` turns a document into the token streams the backends store (bigrams, characters,
pinyin, the compact code and the whole-title key), and ``pg_lexemes`` into the PostgreSQL
``tsvector`` with positions and weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
NOTES_ANALYSED = 20_000  # characters of the notes that are tokenised (the rest is kept, unsearched)
PAGES_ANALYSED = 50_000  # characters of a record's page text (OCR) that are tokenised


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


BODY_FIELDS = ("reference_code", "creator", "keywords", "notes", "page_text")


@dataclass
class Analysed:
    """What the backends index of a document, from ``search.analysis``."""

    title: str  # the bigram stream, space-separated
    title_chars: str  # the character stream
    body: list[str]  # per body field, the bigram stream (plus the compact code)
    body_chars: list[str]
    pinyin: list[str]  # per Han run of the title and creator: its syllables
    initials: list[str]  # ... and their first letters
    title_key: str
    code_key: str


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name) or ""
    if name == "notes":
        return value[:NOTES_ANALYSED]
    return value[:PAGES_ANALYSED] if name == "page_text" else value


def analysed(doc: dict[str, Any]) -> Analysed:
    title = analysis.terms(doc.get("title") or "")
    body, body_chars = [], []
    for name in BODY_FIELDS:
        tokens = analysis.terms(_text(doc, name))
        code = analysis.code_key(doc.get(name) or "") if name == "reference_code" else ""
        body.append(" ".join((*tokens.bigrams, code) if code else tokens.bigrams))
        body_chars.append(" ".join(tokens.chars))
    pinyin: list[str] = []
    initials: list[str] = []
    for name in ("title", "creator"):
        syllables, letters = analysis.pinyin_terms(doc.get(name) or "")
        pinyin.extend(" ".join(run) for run in syllables)
        initials.extend(" ".join(run) for run in letters)
    return Analysed(
        title=" ".join(title.bigrams),
        title_chars=" ".join(title.chars),
        body=body,
        body_chars=body_chars,
        pinyin=pinyin,
        initials=initials,
        title_key=analysis.title_key(doc.get("title") or ""),
        code_key=analysis.code_key(doc.get("reference_code") or ""),
    )


# PostgreSQL: one tsvector, positions per section (phrases never cross a section), weights
# A (title and its pinyin), C (creator, keywords and their pinyin), D (code, notes).
MAX_POSITION = 16383  # PostgreSQL's largest position
MAX_POSITIONS = 255  # positions kept per lexeme
SECTIONS = {
    "title": (1, "A"),
    "title_pinyin": (1001, "A"),
    "title_initials": (2001, "A"),
    "creator_pinyin": (3001, "C"),
    "creator_initials": (3601, "C"),
    "reference_code": (4201, "D"),
    "creator": (4401, "C"),
    "keywords": (4801, "C"),
    "notes": (5501, "D"),
    "page_text": (9001, "D"),
}


def _quote(lexeme: str) -> str:
    if "'" in lexeme or "\\" in lexeme:
        return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
    return f"'{lexeme}'"


_MARK = {"A": "A", "B": "B", "C": "C", "D": ""}  # D is PostgreSQL's default weight: unwritten


def pg_lexemes(doc: dict[str, Any]) -> str:
    """The document as a ``tsvector`` literal: both token streams with positions, pinyin
    syllables (``^hui``) and initials (``^^h``), and the exact-code lexeme ``~=<code>``.

    Every term keeps its first ``MAX_POSITIONS`` positions (capped at ``MAX_POSITION``), each
    with the weight of the section it was first seen in at that position; terms are listed in
    the order they were first seen (tests/search/test_document_golden.py holds the output)."""
    entries: dict[str, dict[int, str]] = {}

    def add(pairs: Iterable[tuple[str, int]], section: str) -> None:
        base, weight = SECTIONS[section]
        for term, offset in pairs:
            position = min(base + offset, MAX_POSITION)
            positions = entries.get(term)
            if positions is None:
                entries[term] = {position: weight}
            elif len(positions) < MAX_POSITIONS and position not in positions:
                positions[position] = weight

    def runs(readings: analysis.Readings, prefix: str) -> list[tuple[str, int]]:
        pairs, position = [], 0
        for run in readings:
            pairs += [(prefix + syllable, position + i) for i, syllable in enumerate(run)]
            position += len(run) + 1  # a gap: a phrase never spans two runs
        return pairs

    def add_terms(text: str, section: str) -> None:
        found = analysis.terms(text)
        add(zip(found.lexemes, found.offsets, strict=True), section)

    add_terms(doc["title"], "title")
    for name in BODY_FIELDS:
        add_terms(_text(doc, name), name)
    for name in ("title", "creator"):
        syllables, initials = analysis.pinyin_terms(doc.get(name) or "")
        add(runs(syllables, analysis.PINYIN), f"{name}_pinyin")
        add(runs(initials, analysis.PINYIN * 2), f"{name}_initials")
    code = analysis.code_key(doc["reference_code"])
    if code:
        add([(code, 0)], "reference_code")
        entries.setdefault("~=" + code, {})
    parts = []
    for term, positions in entries.items():
        if len(positions) == 1:
            ((position, weight),) = positions.items()
            parts.append(f"{_quote(term)}:{position}{_MARK[weight]}")
        elif positions:
            listed = ",".join(f"{p}{_MARK[w]}" for p, w in sorted(positions.items()))
            parts.append(f"{_quote(term)}:{listed}")
        else:
            parts.append(_quote(term))
    return " ".join(parts)
