"""Highlighted snippets, the same on every backend (Elasticsearch's hits are marked here too).

The text is analysed as at index time (``search.analysis.analyze``: normalised, both token
streams with the spans of the text as written), and a query term is marked only where it is a
whole token: ``11`` is not marked inside ``2011年``, ``on`` not inside ``Cooperation``, and
``2019`` is marked over ``二〇一九``. The text is HTML-escaped; only the ``<mark>`` tags are
markup.
"""

from __future__ import annotations

from django.utils.html import escape

from search.analysis import analyze, is_pinyin

FRAGMENT = 80


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    tokens = analyze(text)
    spans = sorted((t.start, t.end) for t in (*tokens.bigrams, *tokens.chars) if t.term in terms)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: list[str], *, fragment: bool = False) -> str | None:
    """Escaped ``text`` with ``<mark>`` around whole tokens that are query terms; None when
    nothing matched."""
    wanted = {t for t in terms if not is_pinyin(t)}
    if not text or not wanted:
        return None
    spans = _spans(text, wanted)
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
