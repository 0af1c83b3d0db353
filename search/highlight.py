"""Highlighted snippets for the database backend (Elasticsearch highlights on its own).

The text is HTML-escaped first; only the ``<mark>`` tags are markup. Matching follows the
tokeniser: a query term (CJK bigram or lower-case word) is marked wherever it occurs.
"""

from __future__ import annotations

import unicodedata

from django.utils.html import escape

FRAGMENT = 80


def _spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    folded = unicodedata.normalize("NFKC", text).lower()
    if len(folded) != len(text):  # normalisation changed lengths: match on the raw text
        folded = text.lower()
    spans = []
    for term in terms:
        start = folded.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: list[str], *, fragment: bool = False) -> str | None:
    """Escaped ``text`` with ``<mark>`` around query terms; None when nothing matched."""
    if not text or not terms:
        return None
    spans = _spans(text, terms)
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
