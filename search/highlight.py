"""Highlighted snippets, the same on every backend (Elasticsearch's hits are marked here too).

The text is analysed as at index time (``search.analysis.analyze``: normalised, both token
streams with the spans of the text as written), and a query term is marked only where it is a
whole token: ``11`` is not marked inside ``2011年``, ``on`` not inside ``Cooperation``, and
``2019`` is marked over ``二〇一九``. A query that matched through the pinyin fallback
(``huiyi``, ``hyjy``) marks the Chinese characters whose readings it matched (``会议`` in
``会议纪要``), whole characters, in the fields the fallback searches (title, creator). The text
is HTML-escaped; only the ``<mark>`` tags are markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.html import escape

from search.analysis import PINYIN, ParsedQuery, analyze, is_pinyin, pinyin_runs

FRAGMENT = 80
FIELDS = ("title", "creator", "keywords", "notes")  # the fields a hit shows marked
PINYIN_FIELDS = ("title", "creator")  # what the pinyin fallback searches (search.documents)


def _reads(syllable: str, term: str) -> bool:
    """Does a character read as ``syllable`` match the query term (``^hui``, ``^^h``)?"""
    if term.startswith(PINYIN * 2):
        return syllable.startswith(term[2:].rstrip("*"))
    wanted = term[1:]
    return syllable.startswith(wanted[:-1]) if wanted.endswith("*") else syllable == wanted


def _pinyin_spans(text: str, sequences: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Spans of the Han characters that stand together reading as one of ``sequences``."""
    found = []
    for run in pinyin_runs(text):
        size = len(run.spans)
        for reading in run.readings:
            for sequence in sequences:
                width = len(sequence)
                for i in range(size - width + 1 if width else 0):
                    if all(_reads(reading[i + j], sequence[j]) for j in range(width)):
                        found.append((run.spans[i][0], run.spans[i + width - 1][1]))
    return found


def _spans(
    text: str, terms: set[str], sequences: Sequence[Sequence[str]] = ()
) -> list[tuple[int, int]]:
    tokens = analyze(text) if terms else None
    spans = (
        [(t.start, t.end) for t in (*tokens.bigrams, *tokens.chars) if t.term in terms]
        if tokens
        else []
    )
    if sequences:
        spans += _pinyin_spans(text, sequences)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(
    text: str,
    terms: list[str],
    *,
    fragment: bool = False,
    pinyin: Sequence[Sequence[str]] = (),
) -> str | None:
    """Escaped ``text`` with ``<mark>`` around whole tokens that are query terms, and around
    the characters whose pinyin reads as one of the ``pinyin`` sequences; None when nothing
    matched."""
    wanted = {t for t in terms if not is_pinyin(t)}
    sequences = [s for s in pinyin if s]
    if not text or not (wanted or sequences):
        return None
    spans = _spans(text, wanted, sequences)
    if not spans:
        return None
    lo, hi = 0, len(text)
    if fragment and len(text) > FRAGMENT:
        lo = max(0, spans[0][0] - FRAGMENT // 4)
        hi = min(len(text), lo + FRAGMENT)
    out = []
    position = lo
    for start, end in spans:
        if start < lo or end > hi:
            continue
        out.append(escape(text[position:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(escape(text[position:hi]))
    return "".join(out)


def highlight_fields(doc: Mapping[str, Any], parsed: ParsedQuery) -> dict[str, list[str]]:
    """The marked fields of a hit for the query as it matched (pinyin fallback included):
    what every backend returns as ``Hit.highlights``."""
    terms = parsed.terms()
    sequences = parsed.pinyin_sequences()
    marked: dict[str, list[str]] = {}
    for name in FIELDS:
        text = highlight(
            doc.get(name) or "",
            terms,
            fragment=name == "notes",
            pinyin=sequences if name in PINYIN_FIELDS else (),
        )
        if text:
            marked[name] = [text]
    return marked
