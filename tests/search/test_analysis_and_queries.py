"""Unit tests (no engine): the tokeniser, the Elasticsearch mapping and queries as JSON, and
the edge validation of search parameters."""

from __future__ import annotations

import pytest

from search.analysis import (
    analyze,
    minimum_should_match,
    parse_query,
    pinyin,
    pinyin_query,
    pinyin_splits,
    split_pinyin,
    split_pinyin_prefix,
)
from search.backends.elasticsearch import build_index, build_search, build_suggest
from search.documents import query_terms, tokenize
from search.query import (
    MAX_QUERY_LENGTH,
    SearchInputError,
    SearchRequest,
    Visibility,
    decode_cursor,
    encode_cursor,
    parse_search_params,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("档案馆", ["档案", "案馆"]),
        ("合同", ["合同"]),
        ("档", ["档"]),
        ("2019年基建工程合同", ["2019", "年基", "基建", "建工", "工程", "程合", "合同"]),
        ("J012-WS·2019-Y-BGS-0001", ["j012", "ws", "2019", "y", "bgs", "0001"]),
        ("ＡＢＣ１２３ 档案", ["abc123", "档案"]),  # full width folds to half width
        ("會議紀要", ["会议", "议纪", "纪要"]),  # traditional → simplified
        ("二〇一九年", ["2019", "年"]),  # Chinese numerals → Arabic
        ("三号楼", ["3", "号楼"]),
        ("统一规划", ["统一", "一规", "规划"]),  # but not inside words
        ("records", ["record"]),
        ("x" * 3000, ["x" * 60]),  # a 2 KB "word" is cut, never refused by an engine
        ('*"(\\', []),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_characters_and_spans_point_at_the_text_as_written():
    tokens = analyze("二〇一九年會議")
    assert [(t.term, t.start, t.end) for t in tokens.bigrams] == [
        ("2019", 0, 4),
        ("年会", 4, 6),
        ("会议", 5, 7),
    ]
    assert [t.term for t in tokens.chars] == ["2019", "年", "会", "议"]
    assert [t.position for t in tokens.chars] == [0, 1, 2, 3]


def test_query_understanding():
    parsed = parse_query('"档案馆" 1990-1995 -借阅 关于 的 施工合同')
    assert (parsed.year_from, parsed.year_to) == (1990, 1995)
    exact, about, contract = parsed.clauses
    assert exact.exact and exact.sequence == ("档", "案", "馆")
    assert about.must == ("关于",)
    assert contract.should == ("施工", "工合", "合同") and contract.minimum == 2
    assert [c.must for c in parsed.excluded] == [("借阅",)]
    assert parse_query("的").clauses[0].must == ("的",)  # only stop characters: kept
    assert parse_query("J012-WS·2019").code == "j012ws2019"
    assert parse_query("档案 2019").code == ""


@pytest.mark.parametrize(
    ("n", "minimum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (8, 6), (12, 9)]
)
def test_minimum_should_match_is_stricter_for_short_words(n, minimum):
    assert minimum_should_match(n) == minimum


def test_pinyin_readings_and_query_split():
    readings = pinyin("会议纪要 银行")
    assert readings.syllables == [
        ["hui", "yi", "ji", "yao"],
        ["kuai", "yi", "ji", "yao"],  # 会 read kuai as well (polyphonic)
        ["yin", "hang"],
        ["yin", "xing"],
    ]
    assert readings.initials[0] == ["h", "y", "j", "y"]
    assert split_pinyin("huiyijiyao") == ["hui", "yi", "ji", "yao"]
    assert split_pinyin("hyjy") is None
    assert split_pinyin_prefix("huiy") == [["hui", "y*"]]
    assert ["dang", "an"] in pinyin_splits("dangan") and ["dan", "gan"] in pinyin_splits("dangan")
    fallback = pinyin_query(parse_query("hyjy"))
    assert fallback.clauses[0].any_of == (("^^h", "^^y", "^^j", "^^y"),)


def test_query_terms_are_distinct_and_capped():
    assert query_terms("档案 档案 档案") == ["档案"]
    assert len(query_terms("档案馆" * 5000)) <= 64


def test_mapping_is_plugin_free_with_token_streams():
    body = build_index("lantai-records-x").to_dict()
    assert "analysis" not in body["settings"]  # tokens come from search.analysis
    props = body["mappings"]["properties"]
    assert props["reference_code"] == {
        "type": "text",
        "index": False,
        "fields": {"raw": {"type": "keyword", "ignore_above": 128}},
    }
    assert props["title"] == {"type": "text", "index": False}
    for name in ("title_bi", "title_chars", "body_bi", "body_chars", "pinyin", "initials"):
        assert props[name] == {"type": "text", "analyzer": "whitespace"}
    assert props["code_key"] == {"type": "keyword", "ignore_above": 64}
    for name in ("fonds_id", "category_id"):
        assert props[name] == {"type": "integer"}
    for name in ("retention", "access_status", "carrier", "doc_id", "kind", "room"):
        assert props[name] == {"type": "keyword"}
    assert props["is_public"] == {"type": "boolean"}
    assert props["classification"] == {"type": "short"}
    assert props["year"] == {"type": "short"}


def test_public_query_json():
    request = SearchRequest(query="档案 2019", facets=("fonds",), size=10)
    body = build_search(request, Visibility()).to_dict()
    assert body["query"]["bool"]["filter"] == [{"term": {"is_public": True}}]
    scored = body["query"]["bool"]["must"][0]["function_score"]
    assert scored["boost_mode"] == "sum"
    words = scored["query"]["bool"]["must"][0]["bool"]["must"]
    assert words[0] == {
        "bool": {
            "must": [
                {
                    "dis_max": {
                        "queries": [
                            {"term": {"title_bi": {"value": "档案", "boost": 3.0}}},
                            {"term": {"body_bi": "档案"}},
                        ],
                        "tie_breaker": 0.3,
                    }
                }
            ]
        }
    }
    assert body["aggs"] == {"fonds": {"terms": {"field": "fonds_id", "size": 50}}}
    assert body["sort"] == ["_score", {"doc_id": "asc"}]
    assert body["track_total_hits"] == 10_000
    assert body["from"] == 0 and body["size"] == 10
    assert "title_bi" in body["_source"]["excludes"]


def test_year_range_typed_into_the_query_filters():
    body = build_search(SearchRequest(query="1990-1995 照片"), Visibility()).to_dict()
    assert {"range": {"year": {"gte": 1990, "lte": 1995}}} in body["query"]["bool"]["filter"]


def test_staff_visibility_json():
    visibility = Visibility(public_only=False, fonds_ids=(3, 5), clearance=1)
    request = SearchRequest(filters={"year_from": 2000, "carrier": ["paper"]})
    body = build_search(request, visibility).to_dict()
    volume = [
        {"range": {"volume_classification": {"lte": 1}}},
        {"terms": {"volume_fonds_id": [3, 5]}},
    ]
    assert body["query"]["bool"]["filter"] == [
        {
            "bool": {
                "should": [
                    {"term": {"is_public": True}},
                    {
                        "bool": {
                            "filter": [
                                {"range": {"classification": {"lte": 1}}},
                                {"terms": {"fonds_id": [3, 5]}},
                                {
                                    "bool": {
                                        "should": [
                                            {
                                                "bool": {
                                                    "must_not": [
                                                        {"exists": {"field": "volume_fonds_id"}}
                                                    ]
                                                }
                                            },
                                            {"bool": {"filter": volume}},
                                        ],
                                        "minimum_should_match": 1,
                                    }
                                },
                            ]
                        }
                    },
                    {
                        "bool": {
                            "filter": [
                                {"terms": {"access_status": ["open", "partial"]}},
                                {"term": {"classification": 0}},
                                *volume,
                            ]
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        },
        {"terms": {"carrier": ["paper"]}},
        {"range": {"year": {"gte": 2000}}},
    ]
    assert body["sort"][0] == {"date_start": {"order": "desc", "missing": "_last"}}


def test_staff_without_fonds_gets_public_filter_only():
    body = build_search(SearchRequest(), Visibility(False, (), 3)).to_dict()
    assert body["query"]["bool"]["filter"] == [{"term": {"is_public": True}}]


def test_superuser_has_no_fonds_clause():
    body = build_search(SearchRequest(), Visibility(False, None, 2)).to_dict()
    staff = body["query"]["bool"]["filter"][0]["bool"]["should"][1]["bool"]["filter"]
    assert staff[0] == {"range": {"classification": {"lte": 2}}}
    assert "terms" not in str(staff)  # no fonds clause, on its own columns or its volume's


def test_cursor_query_json():
    after = ["2019-01-01", "item-4"]
    body = build_search(SearchRequest(sort="code", after=after, page=7), Visibility()).to_dict()
    assert body["search_after"] == after
    assert body["from"] == 0  # page numbers are ignored with a cursor
    assert body["sort"] == [{"reference_code.raw": "asc"}, {"doc_id": "asc"}]


def test_suggest_json():
    body = build_suggest(parse_query("J012-WS"), Visibility(), size=5, code="j012ws").to_dict()
    assert body["size"] == 5
    assert body["query"]["bool"]["filter"] == [
        {"term": {"is_public": True}},
        {"prefix": {"code_key": "j012ws"}},
    ]
    assert body["sort"] == ["reference_code.raw", "doc_id"]


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor([1.5, "item-3"])) == [1.5, "item-3"]
    for bad in (
        "!!!",
        encode_cursor({"a": 1}),
        encode_cursor([1, 2, 3]),
        encode_cursor([[1], "x"]),
    ):
        with pytest.raises(SearchInputError):
            decode_cursor(bad)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "档" * (MAX_QUERY_LENGTH + 1)}, "q"),
        ({"size": "100000"}, "size"),
        ({"size": "0"}, "size"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1000", "size": "100"}, "page"),
        ({"facets": "fonds,colour"}, "facets"),
        ({"sort": "title"}, "sort"),
        ({"carrier": "vellum"}, "carrier"),
        ({"fonds": "x"}, "fonds"),
        ({"year_from": "20x"}, "year_from"),
        ({"cursor": "@@@"}, "cursor"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(params, field):
    with pytest.raises(SearchInputError) as caught:
        parse_search_params(params)
    assert field in caught.value.errors
    assert all(caught.value.errors[field])


def test_good_parameters():
    request = parse_search_params(
        {"q": "  档案 ", "page": "2", "size": "5", "facets": "fonds,year", "carrier": "paper,photo"}
    )
    assert request.query == "档案"
    assert (request.page, request.size, request.offset) == (2, 5, 5)
    assert request.facets == ("fonds", "year")
    assert request.filters == {"carrier": ["paper", "photo"]}


def test_bulk_rows_and_instances_make_the_same_document(catalogue):
    from repository.models import Item, Volume
    from search.documents import build_document, iter_documents

    open_volume = catalogue["volume"]
    secret_volume = Volume.objects.create(
        fonds=catalogue["fonds"]["B"],
        category=catalogue["categories"][("B", "WS")],
        reference_code="J013-WS·2019-Y-BGS-V01",
        title="秘密案卷",
        access_status="controlled",
        classification=1,
    )
    Item.objects.filter(pk=catalogue["code"].pk).update(volume=open_volume, narrows=True)
    Item.objects.filter(pk=catalogue["loan"].pk).update(volume=secret_volume, narrows=True)
    for kind, model in (("item", Item), ("volume", Volume)):
        streamed = {d["pk"]: d for d in iter_documents(kind)}
        for record in model.objects.all():
            assert streamed[record.pk] == build_document(record)
    # the volume's part of the door: none for an open volume, its 密级 and fonds otherwise
    docs = {d["pk"]: d for d in iter_documents("item")}
    assert docs[catalogue["code"].pk]["volume_fonds_id"] is None
    assert docs[catalogue["code"].pk]["volume_classification"] is None
    assert docs[catalogue["loan"].pk]["volume_fonds_id"] == secret_volume.fonds_id
    assert docs[catalogue["loan"].pk]["volume_classification"] == 1
    assert docs[catalogue["loan"].pk]["classification"] == 0  # its own, as shown
