"""Relevance rules shared by the backends (the weights; PostgreSQL applies them in SQL with
``ts_rank_cd``, Elasticsearch as query boosts, SQLite through ``score`` here):

1. an exact reference code (compact form) first (``CODE``);
2. the whole title equal to the query (``WHOLE_TITLE``);
3. the query's words standing together as typed (``PHRASE``, more in the title:
   ``TITLE_PHRASE``) over the same bigrams scattered;
4. a term in the title (``TITLE``) over one in the creator or keywords (``MIDDLE``) over one in
   the code or notes (``BODY``);
5. then recency as the tie-break (``RECENCY`` per year of the record's date, configurable with
   ``settings.SEARCH_RECENCY_WEIGHT``; 0 turns it off).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from search.analysis import ParsedQuery, analyze

CODE = 100.0
WHOLE_TITLE = 3.0
TITLE_PHRASE = 1.0
PHRASE = 1.0
TITLE = 1.0
MIDDLE = 0.3
BODY = 0.1
ENGINE = 0.01  # the engine's own statistics (bm25), a fine tie-break below the rules


def recency_weight() -> float:
    return float(getattr(settings, "SEARCH_RECENCY_WEIGHT", 1e-5))


def _contains(sequence: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(sequence[i : i + n]) == phrase for i in range(len(sequence) - n + 1))


def score(parsed: ParsedQuery, row: dict[str, Any], *, engine: float = 0.0) -> float:
    """The relevance of a database row (title, creator, keywords, notes, reference_code,
    title_key, code_key, year) for ``parsed``."""
    title = analyze(row["title"])
    middle = [analyze(row.get(name) or "") for name in ("creator", "keywords")]
    body = [analyze(row.get(name) or "") for name in ("reference_code", "notes")]

    def terms_of(analyses) -> set[str]:
        return {t.term for a in analyses for t in (*a.bigrams, *a.chars)}

    in_title, in_middle, in_body = terms_of([title]), terms_of(middle), terms_of(body)
    total = 0.0
    for term in parsed.terms():
        if term in in_title:
            total += TITLE
        elif term in in_middle:
            total += MIDDLE
        elif term in in_body:
            total += BODY
    for phrase in parsed.phrases:
        if _contains([t.term for t in title.chars], phrase):
            total += PHRASE + TITLE_PHRASE
        elif any(_contains([t.term for t in a.chars], phrase) for a in (*middle, *body)):
            total += PHRASE
    if parsed.title and row.get("title_key") == parsed.title:
        total += WHOLE_TITLE
    if parsed.code and row.get("code_key") == parsed.code:
        total += CODE
    return total + ENGINE * engine + recency_weight() * (row.get("year") or 0)


ROW_FIELDS = (
    "doc_id",
    "title",
    "creator",
    "keywords",
    "notes",
    "reference_code",
    "title_key",
    "code_key",
    "year",
)
