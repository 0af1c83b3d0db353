"""The database backend's search on PostgreSQL: bounded work per query at any catalogue size.

The words, the visibility rules and the filters are one ``tsquery`` (the scope lexemes of
migration 0003: ``~p`` public, ``~f<fonds>``, ``~c<level>``, ``~m<carrier>`` ...), so the GIN
index yields exactly the visible matches and the table is read only for rows that are counted,
sampled or shown. Two things cost: reading table rows (microseconds each, and a broad word
matches tens of thousands of records), and the GIN scan itself, which gathers *every* match
before anything is read, however small the LIMIT. So each step is bounded:

1. **probe**: the matches in stratum ``~t0`` (1/32 of the records, by a hash of the id), at most
   ``probe_limit`` rows. The sparse stratum drives the GIN scan, so even the broadest words cost
   little, and 32 times the probe estimates the number of matches.
2. **few matches** (a probe too small to prove more than ``cap``, see ``broad_threshold``):
   every match, at most ``cap + 1`` rows, with facet columns and rank; totals, facets and the
   page are exact, counted and ordered in Python, and the page's rows fetched by id.
3. **many matches**: the total is "more than ``cap``"; facets are counted over the probe, or
   over other strata sized to read about ``facet_sample`` rows, scaled to the whole and flagged
   as estimates (``facets_exact = False``). The page: relevance ranks every match when there are
   at most ``rank_limit``, broader searches list the newest first (a later page's cursor says
   which order page one used); date and code orders walk that order's b-tree index from the
   cursor, testing each row (``ts_match_vq``, the ``@@`` test in a form no index serves), when
   that reads fewer rows than sorting every match, and fall back to sorting when the walk finds
   the matches sparser than estimated.

Each search runs in a transaction with JIT and parallel workers off: they cost more than these
bounded queries save.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from repository.choices import PUBLIC_STATUSES
from search import ranking
from search.analysis import Clause, ParsedQuery, is_prefix, parse_query
from search.query import FACET_FIELDS, FacetBucket, SearchInputError, SearchRequest, Visibility

SAMPLE_STRATA = 1024  # ~s<id mod 1024>
FACET_LIMITS = {"year": 200}
CODE_BOOST = ranking.CODE
# ts_rank_cd's weights for D, C, B, A: code and notes, creator and keywords, -, title
RANK_WEIGHTS = f"{{{ranking.BODY}, {ranking.MIDDLE}, 0.6, {ranking.TITLE}}}"


def rank_sql(plan: Plan) -> tuple[str, list]:
    """Relevance (``search.ranking``): cover density of every term by field weight
    (``ts_rank_cd``: positions, so bigrams standing together count more), the phrase bonus
    (more in the title), the whole title, the exact code, and recency as the tie-break. Only
    of the rows being ranked: a bounded number."""
    sql = "(ts_rank_cd(%s::float4[], search_vector, %s::tsquery, 0)"
    params: list[Any] = [RANK_WEIGHTS, plan.ranked or "''"]
    for phrase in plan.phrases:
        sql += " + CASE WHEN search_vector @@ %s::tsquery THEN %s ELSE 0 END"
        sql += " + CASE WHEN search_vector @@ %s::tsquery THEN %s ELSE 0 END"
        params += [phrase, ranking.PHRASE, weighted(phrase_of(plan.phrase_terms[phrase]), "A")]
        params += [ranking.TITLE_PHRASE]
    if plan.title:
        sql += " + CASE WHEN title_key = %s THEN %s ELSE 0 END"
        params += [plan.title, ranking.WHOLE_TITLE]
    if plan.code:
        sql += " + CASE WHEN search_vector @@ %s::tsquery THEN %s ELSE 0 END"
        params += [lexeme("~=" + plan.code), CODE_BOOST]
    sql += " + %s * COALESCE(year, 0))::float8"
    params.append(ranking.recency_weight())
    return sql, params


# The sort keys of migration 0003's indexes: no NULLs, undated records last in both directions.
NEWEST = "COALESCE(date_start, '-infinity'::date)"
OLDEST = "COALESCE(date_start, 'infinity'::date)"
ORDER_BY = {
    "-date": f"{NEWEST} DESC, doc_id",
    "date": f"{OLDEST}, doc_id",
    "code": "reference_code, doc_id",
}
MATCH = "search_vector @@ %s::tsquery"
MATCH_HIDDEN = "ts_match_vq(search_vector, %s::tsquery)"  # the same test; no index serves it
FILTER_LEXEMES = {
    "fonds": "~f",
    "category": "~g",
    "year": "~y",
    "kind": "~k",
    "carrier": "~m",
    "retention": "~r",
    "access_status": "~a",
}


def lexeme(value: Any) -> str:
    """A quoted ``tsquery`` operand, taken as it is (no parser or dictionary touches it)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def any_of(values) -> str:
    return "(" + " | ".join(lexeme(v) for v in values) + ")"


def term(value: str) -> str:
    """A term of ``search.analysis``: a prefix (type-ahead) ends in ``*``."""
    if is_prefix(value):
        return lexeme(value[:-1]) + ":*"
    return lexeme(value)


def phrase_of(terms) -> str:
    return "(" + " <-> ".join(term(t) for t in terms) + ")"


def weighted(phrase: str, weight: str) -> str:
    """``phrase`` with every operand restricted to lexemes of ``weight``."""
    return phrase.replace("' <->", f"':{weight} <->").replace("')", f"':{weight})")


def clause_tsquery(clause: Clause) -> str:
    """The index-served part of a clause: every ``must`` term and any ``should`` term (the
    count of ``should`` terms is ``clause_sql``'s), the phrase when exact, a year lexeme as
    the alternative."""
    if clause.any_of:
        return "(" + " | ".join(phrase_of(alt) for alt in clause.any_of) + ")"
    parts = [term(t) for t in clause.must]
    if clause.should:
        parts.append("(" + " | ".join(term(t) for t in clause.should) + ")")
    if clause.exact:
        parts.append(phrase_of(clause.sequence))
    query = "(" + " & ".join(parts) + ")"
    if clause.year is not None:
        query = f"({query} | {lexeme(f'~y{clause.year}')})"
    return query


def clause_sql(clause: Clause) -> tuple[str, list]:
    """What the index cannot test: at least ``minimum`` of the ``should`` terms."""
    if not clause.minimum > 1 or clause.any_of:
        return "", []
    counted = " + ".join("(search_vector @@ %s::tsquery)::int" for _ in clause.should)
    sql, params = f"({counted}) >= %s", [*(term(t) for t in clause.should), clause.minimum]
    if clause.year is not None:
        sql = f"(search_vector @@ %s::tsquery OR {sql})"
        params.insert(0, lexeme(f"~y{clause.year}"))
    return sql, params


def words_tsquery(parsed: ParsedQuery) -> str | None:
    """Every clause, none of the excluded; ``None`` without words. (An exact code is the
    caller's alternative: ``Plan.words``.)"""
    if parsed.empty:
        return None
    parts = [clause_tsquery(c) for c in parsed.clauses]
    parts += [
        f"!{phrase_of(c.sequence) if len(c.sequence) > 1 else term(c.must[0])}"
        for c in parsed.excluded
    ]
    return " & ".join(parts)


def visibility_scope(visibility: Visibility) -> tuple[str, str, list]:
    """The ``visible_to`` rules: ``(tsquery, sql, params)``. The public's ``~p`` is a lexeme (one
    list the GIN index skips through); staff rules cover most of the catalogue, and a union of
    such dense lists costs the GIN index more than testing the rows it yields, so they are SQL:
    ``Visibility.allows`` on the columns, an item's volume's 密级 and fonds included (the
    ``~c``/``~f`` lexemes are the record's own columns, for filters: never the door)."""
    hidden_sql, hidden_params = "", []
    if visibility.hidden:  # the index is behind a narrowing change (search.freshness)
        hidden_sql, hidden_params = "NOT (doc_id = ANY(%s))", [list(visibility.hidden)]
    if visibility.public_only or visibility.fonds_ids == ():
        return "'~p'", hidden_sql, hidden_params
    own, own_params = permitted_sql(visibility)
    volume, volume_params = permitted_sql(visibility, "volume_")
    sql = (
        f"(is_public OR ({own} AND (volume_fonds_id IS NULL OR {volume}))"
        f" OR (access_status = ANY(%s) AND classification = 0 AND {volume}))"
    )
    params = [*own_params, *volume_params, [str(s) for s in PUBLIC_STATUSES], *volume_params]
    if hidden_sql:
        return "", f"{sql} AND {hidden_sql}", [*params, *hidden_params]
    return "", sql, params


def permitted_sql(visibility: Visibility, prefix: str = "") -> tuple[str, list]:
    """Cleared to ``<prefix>classification``, permitted on ``<prefix>fonds_id`` (false for
    NULL columns: a document with no guarding volume)."""
    sql, params = f"{prefix}classification <= %s", [int(visibility.clearance)]
    if visibility.fonds_ids is not None:
        sql += f" AND {prefix}fonds_id = ANY(%s)"
        params.append(list(visibility.fonds_ids))
    return f"({sql})", params


def filters_tsquery(filters: dict[str, Any]) -> str | None:
    """The list filters as lexemes (``""`` when none); ``None`` when a filter has no value left
    (nothing can match)."""
    parts = []
    for name, prefix in FILTER_LEXEMES.items():
        if name in filters:
            values = list(dict.fromkeys(filters[name]))
            if not values:
                return None
            parts.append(any_of(f"{prefix}{value}" for value in values))
    return " & ".join(parts)


def _and(*parts: str | None) -> str:
    return " & ".join(p for p in parts if p)


def strata(k: int) -> tuple[str | None, int]:
    """About ``k``/1024 of all records, by id: ``(tsquery or None for all, k actually used)``.
    Never more than 31 operands: below 32/1024 by ``~s<id mod 1024>``, else by
    ``~t<id mod 32>`` (in steps of 32/1024)."""
    k = min(max(k, 1), SAMPLE_STRATA)
    if k < 32:
        return any_of(f"~s{i}" for i in range(k)), k
    steps = k // 32
    if steps >= 32:
        return None, SAMPLE_STRATA
    return any_of(f"~t{i}" for i in range(steps)), steps * 32


@dataclass
class Plan:
    """The SQL of one search's match condition."""

    words: str | None  # tsquery of the words (with the exact code as an alternative)
    scope: str  # tsquery of visibility and filters ("" for none)
    code: str  # the compact code the query would be ("" when it is none)
    scope_sql: str = ""  # visibility as SQL (staff)
    scope_params: list = field(default_factory=list)
    years: list[tuple[str, int]] = field(default_factory=list)  # (">=" or "<=", year)
    words_sql: str = ""  # minimum-should-match counts (an exact code passes them)
    words_params: list = field(default_factory=list)
    ranked: str = ""  # tsquery of every positive term (ts_rank_cd)
    title: str = ""  # the whole query as a title key
    phrases: list[str] = field(default_factory=list)  # phrase tsqueries (the phrase bonus)
    phrase_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def where(self, *, hidden: bool = False, sample: str | None = None) -> tuple[str, list]:
        """``hidden``: the same test as a function call that no index serves (the planner then
        walks a b-tree in sort order). ``sample``: a tsquery to AND in (strata, years)."""
        test = MATCH_HIDDEN if hidden else MATCH
        scope = _and(self.scope, sample)
        params: list[Any] = []
        if self.words:
            sql = test
            params.append(_and(f"({self.words})", scope))
            if self.words_sql:
                sql += f" AND {self.words_sql}"
                params += self.words_params
        elif scope:
            sql, params = test, [scope]
        else:
            sql = "TRUE"
        if self.scope_sql:
            sql += f" AND {self.scope_sql}"
            params += self.scope_params
        for op, year in self.years:
            sql += f" AND year {op} %s"
            params.append(year)
        return sql, params

    def rank(self) -> tuple[str, list]:
        return rank_sql(self)


def make_plan(
    request: SearchRequest, visibility: Visibility, parsed: ParsedQuery | None = None
) -> Plan | None:
    """``None`` when nothing can match."""
    filters = filters_tsquery(request.filters)
    if filters is None:
        return None
    visible, scope_sql, scope_params = visibility_scope(visibility)
    parsed = parse_query(request.query) if parsed is None else parsed
    words = words_tsquery(parsed)
    words_sql, words_params = "", []
    counts = [clause_sql(c) for c in parsed.clauses]
    if any(sql for sql, _ in counts):
        words_sql = " AND ".join(sql for sql, _ in counts if sql)
        words_params = [p for sql, params in counts if sql for p in params]
    if words and parsed.code:
        code = lexeme("~=" + parsed.code)
        words = f"({words}) | {code}"
        if words_sql:
            words_sql = f"(search_vector @@ %s::tsquery OR ({words_sql}))"
            words_params = [code, *words_params]
    bounds = ((">=", "year_from"), ("<=", "year_to"))
    years = [(op, request.filters.get(name)) for op, name in bounds]
    terms = parsed.terms()
    phrase_terms = {phrase_of(p): p for p in parsed.phrases}
    return Plan(
        words=words,
        scope=_and(visible, filters),
        code=parsed.code,
        scope_sql=scope_sql,
        scope_params=scope_params,
        years=[(op, year) for op, year in years if year is not None],
        words_sql=words_sql,
        words_params=words_params,
        ranked=" | ".join(term(t) for t in terms),
        title=parsed.title,
        phrases=list(phrase_terms),
        phrase_terms=phrase_terms,
    )


@dataclass
class Outcome:
    total: int
    exact: bool
    facets: dict[str, list[FacetBucket]]
    facets_exact: bool
    rows: list[dict[str, Any]]
    order: str  # the order of this page: "relevance", "-date", "date" or "code"


@dataclass
class Budget:
    cap: int  # totals are exact up to here
    facet_sample: int  # rows a facet estimate aims to read
    rank_limit: int  # relevance order up to this many matches, newest first beyond
    probe_limit: int  # rows the 1/32 probe may read (a quarter of it without facets)


PROBE = "'~t0'"  # 32 of the 1024 strata
PROBE_SCALE = SAMPLE_STRATA // 32
WALK_LIMIT = 300  # walk an order's index when the page should be found within this many rows
PAGE_SAMPLE = 300  # matches sampled to plan a page in code order


def broad_threshold(cap: int) -> int:
    """Probe rows that prove more than ``cap`` matches: ``cap + 1`` for certain, or far more
    than ``cap`` matches would put in 1/32 (mean + 8 standard deviations + 8: for cap 1,000,
    84 rows where 31 are expected; the chance that ``cap`` matches give that many is below
    1e-12)."""
    mean = cap / PROBE_SCALE
    return min(cap + 1, math.ceil(mean + 8 * math.sqrt(mean) + 8))


SAMPLED = ("doc_id", "reference_code", "year")  # what planning a page needs of a sample


@dataclass
class Sample:
    """Matches read from some strata: ``scale`` matches per row read."""

    rows: list[dict[str, Any]]
    scale: float
    complete: bool = False  # every match: counts are exact
    truncated: bool = False  # the LIMIT cut it: the first rows found, not a uniform sample

    @property
    def estimate(self) -> float:
        return len(self.rows) * self.scale


def _rows(cursor, plan: Plan, names, *, limit: int, sample: str | None) -> list[dict]:
    where, params = plan.where(sample=sample)
    columns = dict.fromkeys([*SAMPLED, *(FACET_FIELDS[name] for name in names)])
    cursor.execute(
        f"SELECT {', '.join(columns)} FROM search_document WHERE {where} LIMIT %s",  # noqa: S608
        [*params, limit],
    )
    fields = [c.name for c in cursor.description]
    return [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]


def _counts(rows: list[dict], names) -> dict[str, dict[Any, int]]:
    counts: dict[str, dict[Any, int]] = {name: {} for name in names}
    for row in rows:
        for name in names:
            value = row[FACET_FIELDS[name]]
            counts[name][value] = counts[name].get(value, 0) + 1
    return counts


def _buckets(counts: dict[str, dict[Any, int]], scale: float = 1.0) -> dict[str, list]:
    facets = {}
    for name, by_value in counts.items():
        buckets = [
            FacetBucket(value=value, count=n if scale == 1.0 else max(1, round(n * scale)))
            for value, n in by_value.items()
            if value is not None
        ]
        buckets.sort(key=lambda b: (-b.count, b.value))
        facets[name] = buckets[: FACET_LIMITS.get(name, 50)]
    return facets


def _sample(cursor, plan: Plan, names, *, target: int, estimate: float) -> Sample:
    """About ``target`` matches from strata sized by ``estimate``, re-aimed (at most twice) when
    the sample's own size shows that the estimate was far off; every match when the strata
    cover everything."""
    k = math.ceil(SAMPLE_STRATA * target / max(estimate, 1.0))
    guard = 4 * target
    result = Sample([], 1.0)
    for _attempt in range(3):
        sample, k = strata(k)
        rows = _rows(cursor, plan, names, limit=guard + 1, sample=sample)
        result = Sample(rows, SAMPLE_STRATA / k, sample is None, len(rows) > guard)
        if result.truncated:  # far more than aimed at
            k = k * target // len(rows)
            continue
        if sample is None or len(rows) * 4 >= target:
            return result
        k = math.ceil(SAMPLE_STRATA * target / max(result.estimate, 1.0))  # far fewer: widen
    return result


def cursor_day(value: Any) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise SearchInputError({"cursor": [_("Not a valid cursor.")]}) from exc


def _key(order: str, rank: Any, code: Any, day: date | None, doc_id: str) -> tuple:
    """The sort key of a row in ``order`` (Python's copy of ``ORDER_BY``)."""
    if order == "relevance":
        return (-rank, doc_id)
    if order == "code":
        return (code, doc_id)
    if order == "-date":
        return (day is None, -day.toordinal() if day else 0, doc_id)
    return (day is None, day.toordinal() if day else 0, doc_id)


def _cursor_key(order: str, after: list) -> tuple:
    if order == "relevance":
        return _key(order, after[0], None, None, after[1])
    if order == "code":
        return _key(order, None, str(after[0]), None, after[1])
    return _key(order, None, None, cursor_day(after[0]), after[1])


def _row_key(order: str, row: dict) -> tuple:
    return _key(order, row.get("rank"), row["reference_code"], row["date_start"], row["doc_id"])


def _fetch(cursor, ids: list[int], columns: str) -> list[dict]:
    """Full rows of ``ids``, in that order."""
    if not ids:
        return []
    cursor.execute(f"SELECT id, {columns} FROM search_document WHERE id = ANY(%s)", [ids])  # noqa: S608
    names = [c.name for c in cursor.description]
    by_id = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    return [by_id[i] for i in ids if i in by_id]


def _every_match(cursor, plan: Plan, names, order: str, limit: int) -> list[dict]:
    """Up to ``limit`` matches with what counting, facets and ordering need."""
    where, params = plan.where()
    columns = "id, doc_id, reference_code, date_start"
    columns += "".join(f', "{FACET_FIELDS[name]}"' for name in names)
    select_params: list[Any] = []
    if order == "relevance":
        rank, select_params = plan.rank()
        columns += f", {rank} AS rank"
    cursor.execute(
        f"SELECT {columns} FROM search_document WHERE {where} LIMIT %s",  # noqa: S608
        [*select_params, *params, limit],
    )
    names_ = [c.name for c in cursor.description]
    return [dict(zip(names_, row, strict=True)) for row in cursor.fetchall()]


def _cursor_sql(order: str, after: list | None) -> tuple[str, list]:
    """Rows after the cursor in a date or code order (a range of that order's index)."""
    if after is None:
        return "", []
    if order == "code":
        return " AND (reference_code, doc_id) > (%s, %s)", [str(after[0]), after[1]]
    day = cursor_day(after[0])
    if order == "-date":
        day_sql = day.isoformat() if day else "-infinity"
        return (
            f" AND {NEWEST} <= %s::date AND ({NEWEST} < %s::date OR doc_id > %s)",
            [day_sql, day_sql, after[1]],
        )
    day_sql = day.isoformat() if day else "infinity"
    return (
        f" AND {OLDEST} >= %s::date AND ({OLDEST} > %s::date OR doc_id > %s)",
        [day_sql, day_sql, after[1]],
    )


def _sorted_page(cursor, plan: Plan, request: SearchRequest, order: str, columns: str):
    """Every match from the GIN index, sorted: reads all of them (few, or ranked)."""
    after = request.after
    where, params = plan.where()
    select_params: list[Any] = []
    if order == "relevance":
        rank, rank_params = plan.rank()
        columns += f", {rank} AS rank"
        select_params = rank_params
        cond, cond_params = "", []
        if after is not None:
            cond = f" AND ({rank} < %s OR ({rank} = %s AND doc_id > %s))"
            cond_params = [*rank_params, after[0], *rank_params, after[0], after[1]]
        order_by = "rank DESC, doc_id"
    else:
        cond, cond_params = _cursor_sql(order, after)
        order_by = ORDER_BY[order]
    cursor.execute(
        f"SELECT {columns} FROM search_document WHERE {where}{cond} "  # noqa: S608
        f"ORDER BY {order_by} LIMIT %s OFFSET %s",
        [*select_params, *params, *cond_params, request.size, request.offset],
    )
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _walk(cursor, plan: Plan, request: SearchRequest, order: str, *, chunk: int, bound: int):
    """Walk ``order``'s b-tree index from the cursor, testing each row, until the page is full;
    ``None`` once ``bound`` rows were read (the matches are sparser there than estimated)."""
    test, test_params = plan.where(hidden=True)
    after = request.after
    wanted = request.offset + request.size
    ids: list[int] = []
    read = 0
    while True:
        cond, cond_params = _cursor_sql(order, after)
        cursor.execute(
            f"SELECT id, doc_id, reference_code, date_start, ({test}) AS ok "  # noqa: S608
            f"FROM search_document WHERE TRUE{cond} ORDER BY {ORDER_BY[order]} LIMIT %s",
            [*test_params, *cond_params, chunk],
        )
        rows = cursor.fetchall()
        read += len(rows)
        ids.extend(row[0] for row in rows if row[4])
        if len(ids) >= wanted or len(rows) < chunk:
            return ids[request.offset : wanted]
        if read >= bound:
            return None
        last = rows[-1]
        after = [last[2] if order == "code" else last[3] and last[3].isoformat(), last[1]]
        chunk = min(chunk * 2, 5000)


def _dated_page(cursor, plan: Plan, request: SearchRequest, order: str, columns: str, sample):
    """Newest (or oldest) first through the year lexemes: the fewest years, from the cursor's
    on, that the sample says hold enough matches, widened until they do. ``None`` when the
    dated matches run out (the undated ones come last: the caller sorts everything)."""
    newest = order == "-date"
    cursor.execute("SELECT min(date_start), max(date_start) FROM search_document")
    low, high = cursor.fetchone()
    if low is None:
        return None
    edge = high.year if newest else low.year
    if request.after is not None:
        day = cursor_day(request.after[0])
        if day is None:
            return None
        edge = day.year
    span = list(range(edge, low.year - 1, -1) if newest else range(edge, high.year + 1))
    years = _counts(sample.rows, ("year",))["year"]
    need = request.offset + request.size
    taken, expected = 0, 0.0
    while taken < len(span) and expected < 2 * need + 20:
        expected += years.get(span[taken], 0) * sample.scale
        taken += 1
    cond, cond_params = _cursor_sql(order, request.after)
    while True:
        where, params = plan.where(sample=any_of(f"~y{year}" for year in span[:taken]))
        cursor.execute(
            f"SELECT id FROM search_document WHERE {where}"  # noqa: S608
            f" AND date_start IS NOT NULL{cond} ORDER BY {ORDER_BY[order]} LIMIT %s",
            [*params, *cond_params, need],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) >= need:
            return _fetch(cursor, ids[request.offset :], columns)
        if taken >= len(span):
            return None
        taken = min(len(span), 2 * taken)


def _coded_page(cursor, plan: Plan, request: SearchRequest, columns: str, sample: Sample):
    """Code order up to a bound that the sample's codes place beyond the page (about twice the
    matches the page needs), widened until the page fits; matches come from the GIN index and
    the code index's range together (a walk of the code index alone reads every record in the
    range, and matches may cluster far along it)."""
    need = request.offset + request.size
    start = None if request.after is None else (str(request.after[0]), request.after[1])
    codes = sorted(
        (row["reference_code"], row["doc_id"])
        for row in sample.rows
        if start is None or (row["reference_code"], row["doc_id"]) > start
    )
    step = max(1, math.ceil((2 * need + 20) / sample.scale))
    cond, cond_params = _cursor_sql("code", request.after)
    where, params = plan.where()
    cursor.execute("SELECT current_setting('work_mem')")
    work_mem = cursor.fetchone()[0]
    # a bitmap of the code range must stay exact (not per page) for the AND to be selective
    cursor.execute(
        "SELECT set_config('enable_indexscan', 'off', true), set_config('work_mem', '64MB', true)"
    )
    try:
        while True:
            bound = codes[step - 1] if step <= len(codes) else None
            upto, upto_params = "", []
            if bound is not None:
                upto, upto_params = " AND (reference_code, doc_id) <= (%s, %s)", list(bound)
            cursor.execute(
                f"SELECT {columns} FROM search_document WHERE {where}{cond}{upto} "  # noqa: S608
                f"ORDER BY {ORDER_BY['code']} LIMIT %s",
                [*params, *cond_params, *upto_params, need],
            )
            rows = cursor.fetchall()
            if len(rows) >= need or bound is None:
                names = [c.name for c in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in rows[request.offset :]]
            step *= 2
    finally:
        cursor.execute(
            "SELECT set_config('enable_indexscan', 'on', true), set_config('work_mem', %s, true)",
            [work_mem],
        )


def search(
    request: SearchRequest,
    visibility: Visibility,
    *,
    fields,
    budget: Budget,
    parsed: ParsedQuery | None = None,
) -> Outcome:
    plan = make_plan(request, visibility, parsed)
    order = request.sort
    if order == "relevance" and (plan is None or not plan.words):
        order = "-date"
    after = request.after
    if order == "relevance" and after is not None and not isinstance(after[0], int | float):
        order = "-date"  # page one listed the newest first
    if plan is None:
        return Outcome(0, True, {name: [] for name in request.facets}, True, [], order)
    names = tuple(request.facets)
    columns = ", ".join(f'"{f}"' for f in fields)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('jit', 'off', true),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )
        # 1. a 1/32 probe: cheap even for the broadest words (the stratum drives the GIN scan)
        limit = budget.probe_limit if names else max(budget.probe_limit // 4, 2 * budget.cap // 16)
        rows = _rows(cursor, plan, names, limit=limit, sample=PROBE)
        probe = Sample(rows, PROBE_SCALE, truncated=len(rows) >= limit)
        if len(rows) < min(limit, broad_threshold(budget.cap)):
            # 2. few matches: every one of them, exactly up to the cap
            matches = _every_match(cursor, plan, names, order, budget.cap + 1)
            if len(matches) <= budget.cap:
                return _exact(cursor, request, order, names, matches, columns)
        # 3. more than the cap: facets and the page from uniform samples
        estimate = max(probe.estimate, float(budget.cap + 1))
        sample = probe
        if names and (probe.truncated or 2 * len(rows) < budget.facet_sample):
            start = float(SAMPLE_STRATA**2) if probe.truncated else estimate  # from 1/1024
            sample = _sample(cursor, plan, names, target=budget.facet_sample, estimate=start)
        facets = _buckets(_counts(sample.rows, names), sample.scale) if names else {}
        if not sample.truncated:
            estimate = max(sample.estimate, float(budget.cap + 1))
        if order == "relevance" and estimate > budget.rank_limit:
            if after is not None and estimate > 2 * budget.rank_limit:
                # page one listed the newest first; a score cursor here would rank them all
                raise SearchInputError({"cursor": [_("Not a valid cursor.")]})
            if after is None:
                order = "-date"  # too many to rank: newest first (a later page's cursor says so)
        page = None
        if order != "relevance":
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'search_document'::regclass")
            table_rows = max(float(cursor.fetchone()[0]), estimate)
            expected = (request.offset + request.size) * table_rows / estimate
            if expected <= WALK_LIMIT:  # dense: walk the order's index
                chunk = max(100, math.ceil(expected * 1.5))
                bound = 4 * math.ceil(expected) + 500
                ids = _walk(cursor, plan, request, order, chunk=chunk, bound=bound)
                if ids is not None:
                    page = _fetch(cursor, ids, columns)
            if page is None and sample.truncated:  # plan from a uniform sample, from 1/1024
                start = float(SAMPLE_STRATA**2)
                sample = _sample(cursor, plan, (), target=PAGE_SAMPLE, estimate=start)
            if page is None and order != "code":
                page = _dated_page(cursor, plan, request, order, columns, sample)
            elif page is None:
                page = _coded_page(cursor, plan, request, columns, sample)
        if page is None:
            page = _sorted_page(cursor, plan, request, order, columns)
    return Outcome(
        total=budget.cap,
        exact=False,
        facets=facets,
        facets_exact=sample.complete,
        rows=page,
        order=order,
    )


def _exact(cursor, request: SearchRequest, order: str, names, matches: list[dict], columns: str):
    """Every match is at hand: count, facets and the page in Python."""
    counts: dict[str, dict[Any, int]] = {name: {} for name in names}
    for row in matches:
        for name in names:
            value = row[FACET_FIELDS[name]]
            counts[name][value] = counts[name].get(value, 0) + 1
    keyed = sorted(matches, key=lambda row: _row_key(order, row))
    if request.after is not None:
        start = _cursor_key(order, request.after)
        keyed = [row for row in keyed if _row_key(order, row) > start]
    page = keyed[request.offset : request.offset + request.size]
    rows = _fetch(cursor, [row["id"] for row in page], columns)
    ranks = {match["id"]: match["rank"] for match in page if "rank" in match}
    for row in rows:
        if row["id"] in ranks:
            row["rank"] = ranks[row["id"]]
    return Outcome(
        total=len(matches),
        exact=True,
        facets=_buckets(counts),
        facets_exact=True,
        rows=rows,
        order=order,
    )


def suggest_rows(
    parsed: ParsedQuery, visibility: Visibility, *, size: int, pool: int
) -> list[dict]:
    """Type-ahead by words: the best ``size`` of the first ``pool`` visible matches (a bounded
    read however common the prefix's words are)."""
    plan = make_plan(SearchRequest(), visibility, parsed)
    if plan is None or not plan.words:
        return []
    where, params = plan.where()
    rank, rank_params = plan.rank()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")
        cursor.execute(
            "SELECT title, reference_code, kind, record_id FROM ("  # noqa: S608
            f"SELECT title, reference_code, kind, record_id, doc_id, {rank} AS rank"
            f" FROM search_document WHERE {where} LIMIT %s) AS pool"
            " ORDER BY rank DESC, doc_id LIMIT %s",
            [*rank_params, *params, pool, size],
        )
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
