"""What every backend indexes of a search document (``search.documents``): its tokens.

Tokens come from ``search.analysis`` (one analysis at index and query time on every backend):
``analysed`` turns a document into the token streams the backends store (bigrams, characters,
pinyin, the compact code and the whole-title key), and ``pg_lexemes`` into the PostgreSQL
``tsvector`` with positions and weights. Pure Python (no Django): a rebuild's worker processes
(``search.parallel``) import only this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from search import analysis

NOTES_ANALYSED = 20_000  # characters of the notes that are tokenised (the rest is kept, unsearched)
PAGES_ANALYSED = 50_000  # characters of a record's page text (OCR) that are tokenised

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
    prepared = doc.get("_analysed")  # done ahead by ``with_analysed`` (a rebuild's workers)
    if prepared is not None:
        return prepared
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
    prepared = doc.get("_lexemes")  # done ahead by ``with_lexemes`` (a rebuild's workers)
    if prepared is not None:
        return prepared
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


# --- analysis done ahead (``search.parallel``: a rebuild's worker processes) -----------------
# Each stores its result in the document under a key that starts with ``_`` (never indexed as
# a field); ``analysed`` and ``pg_lexemes`` return it instead of analysing again.
def with_analysed(doc: dict[str, Any]) -> dict[str, Any]:
    doc["_analysed"] = analysed(doc)
    return doc


def with_lexemes(doc: dict[str, Any]) -> dict[str, Any]:
    doc["_lexemes"] = pg_lexemes(doc)
    return doc
