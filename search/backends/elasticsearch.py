"""Elasticsearch 8.x backend through the official client and ``elasticsearch.dsl``.

One alias (``<prefix>-records``) points at one timestamped index (``<prefix>-records-<ts>``);
``rebuild`` fills a new index and switches the alias atomically. Analysis needs no plugin: the
tokens are made by ``search.analysis`` (the same as the database backends') and sent as
space-separated streams (``title_bi``/``body_bi`` bigrams, ``title_chars``/``body_chars``
characters, ``pinyin``/``initials``) into ``whitespace``-analysed fields, which keep positions
for phrases; ``title_key``/``code_key`` are keywords for the whole-title and exact-code matches.
The record's own fields are kept in ``_source`` only. Highlights are made by ``search.highlight``
from ``_source``, as on the database backends. Writes use external versioning with the
record's ``version``, so an older update is refused by Elasticsearch itself (409, counted as
stale).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from django.utils.translation import gettext as _
from elasticsearch import ApiError, Elasticsearch, TransportError, helpers
from elasticsearch.dsl import (
    Boolean,
    Date,
    Index,
    Integer,
    Keyword,
    Long,
    Mapping,
    Q,
    Search,
    Short,
    Text,
)

from repository.choices import PUBLIC_STATUSES
from search import ranking
from search.analysis import (
    Clause,
    ParsedQuery,
    is_cjk,
    is_pinyin,
    is_prefix,
    parse_query,
    pinyin_query,
)
from search.backends.base import (
    BulkResult,
    ReindexResult,
    SearchBackend,
    SearchUnavailable,
    effective_request,
    require_words,
    suggest_code,
)
from search.highlight import highlight_fields
from search.query import (
    FACET_FIELDS,
    TOTAL_CAP,
    FacetBucket,
    Hit,
    SearchInputError,
    SearchRequest,
    SearchResult,
    Suggestion,
    Visibility,
    encode_cursor,
)
from search.tokens import analysed, with_analysed

STREAMS = ("title_bi", "title_chars", "body_bi", "body_chars", "pinyin", "initials")
TITLE_BOOST = 3.0  # a term in the title counts three times one elsewhere
FACET_SIZES = {"year": 200}
BULK_CHUNK = 1000  # documents per bulk request (outbox drains, repairs)
REBUILD_CHUNK = 2500  # documents per bulk request of a full rebuild
SENDERS = 2  # bulk requests in flight during a rebuild: each keeps one write thread busy
PIPELINE_DEPTH = 4  # chunks waiting between the database reader and the senders
# A new index is filled without refreshes or replicas and with an asynchronous translog (it is
# not live: a crash loses nothing that the rebuild would not redo); the live settings are put
# back before the count is checked and the alias moves.
BUILD_SETTINGS = {"refresh_interval": "-1", "number_of_replicas": 0, "translog.durability": "async"}


def build_mapping() -> Mapping:
    m = Mapping()
    m.field("doc_id", Keyword())
    m.field("kind", Keyword())
    m.field("pk", Long())
    m.field("reference_code", Text(index=False, fields={"raw": Keyword(ignore_above=128)}))
    for name in ("title", "creator", "keywords", "notes"):
        m.field(name, Text(index=False))
    for name in STREAMS:
        m.field(name, Text(analyzer="whitespace"))
    m.field("title_key", Keyword(ignore_above=500))
    m.field("code_key", Keyword(ignore_above=64))
    for name in ("fonds_id", "category_id"):
        m.field(name, Integer())
    for name in ("fonds_code", "category_code", "category_name", "room"):
        m.field(name, Keyword())
    m.field("year", Short())
    m.field("date_start", Date())
    m.field("date_end", Date())
    for name in ("retention", "access_status", "carrier"):
        m.field(name, Keyword())
    m.field("classification", Short())
    m.field("is_public", Boolean())
    m.field("volume_classification", Short())  # None: no volume, or a public one
    m.field("volume_fonds_id", Integer())
    m.field("version", Long())
    return m


def source_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The indexed document: the record's fields plus the token streams of ``analysed``."""
    tokens = analysed(doc)
    # page text is searched, never shown; ``_`` keys are analysis done ahead (search.parallel)
    kept = {k: v for k, v in doc.items() if k != "page_text" and not k.startswith("_")}
    return kept | {
        "title_bi": tokens.title,
        "title_chars": tokens.title_chars,
        "body_bi": tokens.body,
        "body_chars": tokens.body_chars,
        "pinyin": tokens.pinyin,
        "initials": tokens.initials,
        "title_key": tokens.title_key,
        "code_key": tokens.code_key,
    }


def build_index(name: str, *, shards: int = 1, replicas: int = 0) -> Index:
    index = Index(name)
    index.settings(number_of_shards=shards, number_of_replicas=replicas)
    index.mapping(build_mapping())
    return index


def visibility_filter(visibility: Visibility) -> Q:
    """The ``visible_to`` rules as one filter clause."""
    public = Q("term", is_public=True)
    if visibility.public_only or visibility.fonds_ids == ():
        rule = public
    else:  # ``Visibility.allows``: the item's own columns and its volume's
        volume = permitted(visibility, "volume_")
        unguarded = Q("bool", must_not=[Q("exists", field="volume_fonds_id")])
        own_public = [
            Q("terms", access_status=[str(s) for s in PUBLIC_STATUSES]),
            Q("term", classification=0),
        ]
        either = [unguarded, Q("bool", filter=volume)]
        rule = Q(
            "bool",
            should=[
                public,
                Q(
                    "bool",
                    filter=[
                        *permitted(visibility),
                        Q("bool", should=either, minimum_should_match=1),
                    ],
                ),
                Q("bool", filter=[*own_public, *volume]),
            ],
            minimum_should_match=1,
        )
    if visibility.hidden:  # the index is behind a narrowing change (search.freshness)
        return Q("bool", filter=[rule], must_not=[Q("terms", doc_id=list(visibility.hidden))])
    return rule


def permitted(visibility: Visibility, prefix: str = "") -> list[Q]:
    """Cleared to ``<prefix>classification``, permitted on ``<prefix>fonds_id`` (no match
    where the document has none: no guarding volume)."""
    rules = [Q("range", **{f"{prefix}classification": {"lte": visibility.clearance}})]
    if visibility.fonds_ids is not None:
        rules.append(Q("terms", **{f"{prefix}fonds_id": list(visibility.fonds_ids)}))
    return rules


def filter_clauses(filters: dict[str, Any]) -> list[Q]:
    clauses = []
    for name, field in (("fonds", "fonds_id"), ("category", "category_id"), ("year", "year")):
        if name in filters:
            clauses.append(Q("terms", **{field: filters[name]}))
    for name in ("carrier", "retention", "access_status", "kind"):
        if name in filters:
            clauses.append(Q("terms", **{name: filters[name]}))
    years = {}
    if "year_from" in filters:
        years["gte"] = filters["year_from"]
    if "year_to" in filters:
        years["lte"] = filters["year_to"]
    if years:
        clauses.append(Q("range", year=years))
    return clauses


def _fields(term: str) -> tuple[str, str | None]:
    """The (title, body) fields a term is looked up in (pinyin: one field)."""
    if is_pinyin(term):
        return ("initials" if term.startswith("^^") else "pinyin"), None
    if is_cjk(term) and len(term) == 1:
        return "title_chars", "body_chars"
    return "title_bi", "body_bi"


def _bare(term: str) -> str:
    return term.lstrip("^").rstrip("*")


def term_query(term: str) -> Q:
    title, body = _fields(term)
    if body is None:
        kind = "prefix" if is_prefix(term) else "term"
        return Q(kind, **{title: _bare(term)})
    return Q(
        "dis_max",
        queries=[
            Q("term", **{title: {"value": term, "boost": TITLE_BOOST}}),
            Q("term", **{body: term}),
        ],
        tie_breaker=0.3,
    )


def phrase_query(terms: tuple[str, ...], *, boost: float = 1.0) -> Q:
    """The terms standing together, in order (the character streams, or pinyin)."""
    text = " ".join(_bare(t) for t in terms)
    kind = "match_phrase_prefix" if is_prefix(terms[-1]) else "match_phrase"
    if is_pinyin(terms[0]):
        return Q(kind, **{_fields(terms[0])[0]: {"query": text, "boost": boost}})
    return Q(
        "dis_max",
        queries=[
            Q(kind, title_chars={"query": text, "boost": boost * TITLE_BOOST}),
            Q(kind, body_chars={"query": text, "boost": boost}),
        ],
    )


def clause_query(clause: Clause) -> Q:
    if clause.any_of:
        return Q(
            "bool", should=[phrase_query(alt) for alt in clause.any_of], minimum_should_match=1
        )
    must = [term_query(t) for t in clause.must]
    if clause.exact:
        must.append(phrase_query(clause.sequence))
    if clause.should:
        query = Q(
            "bool",
            must=must,
            should=[term_query(t) for t in clause.should],
            minimum_should_match=clause.minimum,
        )
    else:
        query = Q("bool", must=must)
    if clause.year is not None:
        query = Q("bool", should=[query, Q("term", year=clause.year)], minimum_should_match=1)
    return query


def text_query(parsed: ParsedQuery) -> Q | None:
    """Every clause, none of the excluded (or the exact code), plus the ranking bonuses of
    ``search.ranking``: phrases, the whole title, the exact code; recency is added by
    ``with_recency``."""
    if parsed.empty:
        return None
    words = Q(
        "bool",
        must=[clause_query(c) for c in parsed.clauses],
        must_not=[
            phrase_query(c.sequence) if len(c.sequence) > 1 else term_query(c.must[0])
            for c in parsed.excluded
        ],
    )
    bonuses = [phrase_query(p, boost=ranking.PHRASE) for p in parsed.phrases]
    if parsed.title:
        bonuses.append(Q("term", title_key={"value": parsed.title, "boost": ranking.WHOLE_TITLE}))
    if parsed.code:
        code = Q("term", code_key={"value": parsed.code, "boost": ranking.CODE})
        words = Q("bool", should=[words, code], minimum_should_match=1)
    return Q("bool", must=[words], should=bonuses)


def with_recency(query: Q) -> Q:
    weight = ranking.recency_weight()
    if not weight:
        return query
    return Q(
        "function_score",
        query=query,
        functions=[{"field_value_factor": {"field": "year", "factor": weight, "missing": 0}}],
        boost_mode="sum",
    )


def sort_spec(request: SearchRequest, has_text: bool) -> list[Any]:
    sort = request.sort
    if sort == "relevance" and not has_text:
        sort = "-date"
    if sort == "relevance":
        return ["_score", {"doc_id": "asc"}]
    if sort == "code":
        return [{"reference_code.raw": "asc"}, {"doc_id": "asc"}]
    order = "desc" if sort == "-date" else "asc"
    return [{"date_start": {"order": order, "missing": "_last"}}, {"doc_id": "asc"}]


def check_cursor(request: SearchRequest, *, has_text: bool) -> None:
    """A cursor's first value must fit the sort (Elasticsearch would answer a 400 of its own,
    which would look like an outage): a score, a code, or a date (epoch millis or ISO day)."""
    if request.after is None:
        return
    first = request.after[0]
    sort = request.sort if has_text or request.sort != "relevance" else "-date"
    if sort == "relevance":
        valid = isinstance(first, int | float)
    elif sort == "code":
        valid = isinstance(first, str)
    elif isinstance(first, str):
        try:
            date.fromisoformat(first)
            valid = True
        except ValueError:
            valid = False
    else:
        valid = first is None or isinstance(first, int | float)
    if not valid:
        raise SearchInputError({"cursor": [_("Not a valid cursor.")]})


SOURCE_EXCLUDES = [*STREAMS, "title_key", "code_key"]


def build_search(
    request: SearchRequest,
    visibility: Visibility,
    *,
    index: str = "",
    parsed: ParsedQuery | None = None,
) -> Search:
    """The whole query as ``elasticsearch.dsl`` (``.to_dict()`` is checked in unit tests)."""
    parsed = parse_query(request.query) if parsed is None else parsed
    request = effective_request(request, parsed)
    search = Search(index=index or None)
    text = text_query(parsed)
    if text is not None:
        search = search.query(with_recency(text))
    search = search.filter(visibility_filter(visibility))
    for clause in filter_clauses(request.filters):
        search = search.filter(clause)
    for facet in request.facets:
        search.aggs.bucket(
            facet, "terms", field=FACET_FIELDS[facet], size=FACET_SIZES.get(facet, 50)
        )
    search = search.sort(*sort_spec(request, text is not None))
    search = search.extra(track_total_hits=TOTAL_CAP)  # exact below the cap, "gte" above
    if request.after is not None:
        search = search.extra(search_after=request.after)
    search = search.source(excludes=SOURCE_EXCLUDES)
    return search[request.offset : request.offset + request.size]


def build_suggest(
    parsed: ParsedQuery, visibility: Visibility, *, size: int = 8, code: str = ""
) -> Search:
    """Type-ahead: codes beginning with ``code`` (in code order), or else the words."""
    search = Search().filter(visibility_filter(visibility))
    if code:
        search = search.filter(Q("prefix", code_key=code)).sort("reference_code.raw", "doc_id")
    else:
        query = text_query(parsed)
        search = search.query(with_recency(query)) if query is not None else search
        search = search.sort("_score", "doc_id")
    return search.source(["title", "reference_code", "kind", "pk"])[:size]


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"
    prepare_document = staticmethod(with_analysed)

    def __init__(
        self,
        url: str | list[str],
        *,
        index_prefix: str = "lantai",
        timeout: float = 5.0,
        replicas: int = 0,
        **client_options,
    ) -> None:
        self.url = url  # one node, or several of a cluster (a failed call moves to the next)
        self.index_prefix = index_prefix
        self.replicas = replicas  # of the live index (a single node has none to give)
        self.alias = f"{index_prefix}-records"
        # client_options: ca_certs, api_key, verify_certs … (settings.ELASTICSEARCH_OPTIONS)
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=1, **client_options)
        self._ready = False

    # --- plumbing ------------------------------------------------------------------------
    def _call(self, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (TransportError, ApiError) as exc:
            raise SearchUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def ping(self) -> dict[str, Any]:
        health = self.client.cluster.health(timeout="2s")
        status = health["status"]
        return {
            "ok": status in ("green", "yellow"),
            "backend": self.name,
            "cluster_status": status,
            "alias": self.alias,
        }

    def new_index_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"

    def setup(self) -> None:
        if self._ready:
            return
        if self._call(self.client.indices.exists_alias, name=self.alias):
            self._ready = True
            return
        name = self.new_index_name()
        index = build_index(name)
        body = index.to_dict()
        body["aliases"] = {self.alias: {}}
        self._call(self.client.indices.create, index=name, **body)
        self._ready = True

    # --- writes --------------------------------------------------------------------------
    def _bulk(
        self,
        actions: Iterable[dict[str, Any]],
        result: BulkResult,
        *,
        key: str,
        chunk_size: int = BULK_CHUNK,
    ) -> None:
        try:
            for ok, info in helpers.streaming_bulk(
                self.client.options(request_timeout=60),
                actions,
                chunk_size=chunk_size,
                max_retries=5,
                initial_backoff=1,
                max_backoff=30,
                raise_on_error=False,
                raise_on_exception=True,
            ):
                op = next(iter(info.values()))
                if ok:
                    setattr(result, key, getattr(result, key) + 1)
                elif op.get("status") == 409:
                    result.skipped_stale += 1
                elif op.get("status") == 404 and key == "deleted":
                    result.deleted += 1  # already gone
                else:
                    result.errors.append(f"{op.get('_id')}: {op.get('error')}"[:300])
                    result.failed.add(str(op.get("_id")))
        except (TransportError, ApiError) as exc:
            raise SearchUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def index_documents(self, docs: Iterable[dict[str, Any]], *, force: bool = False) -> BulkResult:
        """``force``: an equal version is rewritten too (``external_gte``)."""
        self.setup()
        result = BulkResult()
        self.index_documents_into(docs, self.alias, result, force=force)
        return result

    def delete_documents(self, items: Iterable[tuple[str, int]]) -> BulkResult:
        self.setup()
        result = BulkResult()
        actions = (
            {
                "_op_type": "delete",
                "_index": self.alias,
                "_id": doc_id,
                "version": version,
                "version_type": "external_gte",
            }
            for doc_id, version in items
        )
        self._bulk(actions, result, key="deleted")
        return result

    # --- reads ---------------------------------------------------------------------------
    def search(self, request: SearchRequest, visibility: Visibility) -> SearchResult:
        parsed = parse_query(request.query)
        require_words(parsed)
        check_cursor(request, has_text=not parsed.empty)
        self.setup()
        body = build_search(request, visibility, index=self.alias, parsed=parsed).to_dict()
        response = self._call(self.client.search, index=self.alias, body=body)
        if parsed.latin and response["hits"]["total"]["value"] == 0:
            parsed = pinyin_query(parsed)  # no Latin text has it: try it as pinyin
            body = build_search(request, visibility, index=self.alias, parsed=parsed).to_dict()
            response = self._call(self.client.search, index=self.alias, body=body)
        hits = []
        for raw in response["hits"]["hits"]:
            source = raw["_source"]
            highlights = highlight_fields(source, parsed) if request.highlight else {}
            hits.append(
                Hit(
                    doc=raw["_source"],
                    score=raw.get("_score"),
                    highlights=highlights,
                    sort_values=list(raw.get("sort", [])),
                )
            )
        facets = {}
        for name in request.facets:
            buckets = response.get("aggregations", {}).get(name, {}).get("buckets", [])
            facets[name] = [FacetBucket(value=b["key"], count=b["doc_count"]) for b in buckets]
        next_cursor = None
        if hits and len(hits) == request.size:
            next_cursor = encode_cursor(hits[-1].sort_values)
        return SearchResult(
            total=response["hits"]["total"]["value"],
            total_exact=response["hits"]["total"]["relation"] == "eq",
            hits=hits,
            facets=facets,
            next_cursor=next_cursor,
            page=request.page,
            size=request.size,
        )

    def suggest(self, prefix: str, visibility: Visibility, *, size: int = 8) -> list[Suggestion]:
        prefix = prefix.strip()
        parsed = parse_query(prefix)
        if not prefix or parsed.excludes_only:
            return []
        self.setup()
        searches = []
        code = suggest_code(prefix)
        if code:
            searches.append(build_suggest(parsed, visibility, size=size, code=code))
        if not parsed.empty:
            searches.append(build_suggest(parsed, visibility, size=size))
            if parsed.latin:
                typed = pinyin_query(parsed, prefix=True)
                searches.append(build_suggest(typed, visibility, size=size))
        suggestions: dict[str, Suggestion] = {}
        for search in searches:
            if len(suggestions) >= size:
                break
            body = search.to_dict()
            response = self._call(self.client.search, index=self.alias, body=body)
            for h in response["hits"]["hits"]:
                source = h["_source"]
                suggestions.setdefault(
                    source["reference_code"],
                    Suggestion(
                        text=source["title"],
                        reference_code=source["reference_code"],
                        kind=source["kind"],
                        pk=source["pk"],
                    ),
                )
        return list(suggestions.values())[:size]

    def versions(self, doc_ids: Iterable[str]) -> dict[str, int]:
        ids = list(doc_ids)
        if not ids:
            return {}
        response = self._call(self.client.mget, index=self.alias, ids=ids, source=False)
        return {d["_id"]: d["_version"] for d in response["docs"] if d.get("found")}

    def iter_versions(self) -> Iterator[tuple[str, int]]:
        try:
            for hit in helpers.scan(
                self.client,
                index=self.alias,
                query={"_source": False, "version": True, "query": {"match_all": {}}},
                size=5000,
            ):
                yield hit["_id"], hit["_version"]
        except (TransportError, ApiError) as exc:
            raise SearchUnavailable(str(exc)[:300]) from exc

    def count(self) -> int:
        self.setup()
        return self._call(self.client.count, index=self.alias)["count"]

    def refresh(self) -> None:
        self._call(self.client.indices.refresh, index=self.alias)

    def clear(self) -> None:
        self._ready = False
        self._call(
            self.client.indices.delete,
            index=f"{self.alias}-*",
            ignore_unavailable=True,
            allow_no_indices=True,
        )

    def live_indices(self) -> list[str]:
        if not self._call(self.client.indices.exists_alias, name=self.alias):
            return []
        return sorted(self._call(self.client.indices.get_alias, name=self.alias).keys())

    # --- zero-downtime rebuild -----------------------------------------------------------
    def live_settings(self) -> dict[str, Any]:
        return {
            "refresh_interval": "1s",
            "number_of_replicas": self.replicas,
            "translog.durability": "request",
        }

    def rebuild(self, docs: Iterable[dict[str, Any]], *, expected: int, progress=None):
        """New timestamped index, streamed in bulk by ``SENDERS`` threads (429s retried with
        backoff) with ``BUILD_SETTINGS``; the live settings are put back, the index is merged
        into one segment, and the alias moves to it in one atomic ``update_aliases`` only when
        its count equals ``expected``."""
        started = time.monotonic()
        name = self.new_index_name()
        body = build_index(name, replicas=0).to_dict()
        body["settings"].update(BUILD_SETTINGS)
        self._call(self.client.indices.create, index=name, **body)
        result = BulkResult()

        def counted(stream):
            for doc in stream:
                if progress is not None:
                    progress.update(1)
                yield doc

        try:
            self._pipelined_bulk(counted(docs), name, result)
            self._call(
                self.client.indices.put_settings,
                index=name,
                settings={"index": self.live_settings()},
            )
            # one segment: a fast bulk load leaves dozens, and each costs every query a pass
            self._call(
                self.client.options(request_timeout=3600).indices.forcemerge,
                index=name,
                max_num_segments=1,
            )
            self._call(self.client.indices.refresh, index=name)
            counted_docs = self._call(self.client.count, index=name)["count"]
        except Exception:
            self.client.indices.delete(index=name, ignore_unavailable=True)
            raise
        switched = counted_docs == expected and not result.errors
        if switched:
            old = self.live_indices()
            actions = [{"remove": {"index": i, "alias": self.alias}} for i in old]
            actions.append({"add": {"index": name, "alias": self.alias}})
            self._call(self.client.indices.update_aliases, actions=actions)
            for index in old:
                self.client.indices.delete(index=index, ignore_unavailable=True)
        else:
            self.client.indices.delete(index=name, ignore_unavailable=True)
        return ReindexResult(
            target=name,
            streamed=result.indexed,
            counted=counted_docs,
            expected=expected,
            switched=switched,
            seconds=time.monotonic() - started,
        )

    def _pipelined_bulk(self, docs: Iterable[dict[str, Any]], index: str, result: BulkResult):
        """Read the database here while ``SENDERS`` threads send the previous chunks: database
        reads and indexing overlap, and the node indexes on as many write threads. A bounded
        queue keeps memory flat; the senders never touch the database (this thread's
        connection and transaction stay)."""
        chunks: queue.Queue[list[dict] | None] = queue.Queue(maxsize=PIPELINE_DEPTH)
        failure: list[BaseException] = []
        results = [BulkResult() for _ in range(SENDERS)]

        def send(mine: BulkResult) -> None:
            ended = False

            def stream():
                nonlocal ended
                while (chunk := chunks.get()) is not None:
                    yield from chunk
                ended = True

            try:
                self.index_documents_into(stream(), index, mine, chunk_size=REBUILD_CHUNK)
            except BaseException as exc:  # handed back to the producer below
                failure.append(exc)
                while not ended and chunks.get() is not None:  # unblock the producer
                    pass

        senders = [
            threading.Thread(target=send, args=(mine,), name=f"reindex-bulk-{i}", daemon=True)
            for i, mine in enumerate(results)
        ]
        for sender in senders:
            sender.start()
        chunk: list[dict] = []
        try:
            for doc in docs:
                chunk.append(doc)
                if len(chunk) >= REBUILD_CHUNK:
                    chunks.put(chunk)
                    chunk = []
                    if failure:
                        break
            if chunk and not failure:
                chunks.put(chunk)
        finally:
            for _ in senders:
                chunks.put(None)
            for sender in senders:
                sender.join()
        for mine in results:
            result.indexed += mine.indexed
            result.skipped_stale += mine.skipped_stale
            result.errors += mine.errors
            result.failed |= mine.failed
        if failure:
            raise failure[0]

    def index_documents_into(
        self,
        docs,
        index: str,
        result: BulkResult,
        *,
        chunk_size: int = BULK_CHUNK,
        force: bool = False,
    ) -> None:
        actions = (
            {
                "_op_type": "index",
                "_index": index,
                "_id": doc["doc_id"],
                "version": doc["version"],
                "version_type": "external_gte" if force else "external",
                "_source": source_of(doc),
            }
            for doc in docs
        )
        self._bulk(actions, result, key="indexed", chunk_size=chunk_size)
