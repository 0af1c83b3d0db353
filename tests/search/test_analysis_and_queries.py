"""Unit tests (no engine): the tokeniser, the Elasticsearch mapping and queries as JSON, and
the edge validation of search parameters."""

from __future__ import annotations

import pytest

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
        ("ＡＢＣ１２３ 档案", ["abc123", "档案"]),  # full width folds like cjk_width
        ('*"(\\', []),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_query_terms_are_distinct_and_capped():
    assert query_terms("档案 档案 档案") == ["档案"]
    assert len(query_terms("档案馆" * 5000)) <= 64


def test_mapping_is_plugin_free_cjk_with_keyword_code():
    body = build_index("lantai-records-x").to_dict()
    analyzer = body["settings"]["analysis"]["analyzer"]["lantai_cjk"]
    assert analyzer == {
        "type": "custom",
        "tokenizer": "standard",
        "filter": ["cjk_width", "lowercase", "cjk_bigram"],
    }
    props = body["mappings"]["properties"]
    assert props["reference_code"] == {
        "type": "text",
        "analyzer": "lantai_cjk",
        "fields": {"raw": {"type": "keyword", "ignore_above": 128}},
    }
    assert props["title"] == {"type": "text", "analyzer": "lantai_cjk"}
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
    # the DSL folds the text query and the filters into one bool; the filter still binds
    must = body["query"]["bool"]
    assert must["minimum_should_match"] == 1
    assert must["should"][0] == {
        "term": {"reference_code.raw": {"value": "档案 2019", "boost": 20}}
    }
    assert must["should"][1] == {
        "multi_match": {
            "query": "档案 2019",
            "type": "cross_fields",
            "fields": ["title^3", "reference_code^2", "creator^1.5", "keywords^1.5", "notes"],
            "operator": "and",
        }
    }
    assert body["aggs"] == {"fonds": {"terms": {"field": "fonds_id", "size": 50}}}
    assert body["sort"] == ["_score", {"doc_id": "asc"}]
    assert body["track_total_hits"] == 10_000
    assert body["from"] == 0 and body["size"] == 10
    assert body["highlight"]["encoder"] == "html"
    assert body["highlight"]["pre_tags"] == ["<mark>"]


def test_staff_visibility_json():
    visibility = Visibility(public_only=False, fonds_ids=(3, 5), clearance=1)
    request = SearchRequest(filters={"year_from": 2000, "carrier": ["paper"]})
    body = build_search(request, visibility).to_dict()
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
    assert "highlight" not in body  # nothing to highlight without a text query
    assert body["sort"][0] == {"date_start": {"order": "desc", "missing": "_last"}}


def test_staff_without_fonds_gets_public_filter_only():
    body = build_search(SearchRequest(), Visibility(False, (), 3)).to_dict()
    assert body["query"]["bool"]["filter"] == [{"term": {"is_public": True}}]


def test_superuser_has_no_fonds_clause():
    body = build_search(SearchRequest(), Visibility(False, None, 2)).to_dict()
    staff = body["query"]["bool"]["filter"][0]["bool"]["should"][1]
    assert staff == {"bool": {"filter": [{"range": {"classification": {"lte": 2}}}]}}


def test_cursor_query_json():
    after = ["2019-01-01", "item-4"]
    body = build_search(SearchRequest(sort="code", after=after, page=7), Visibility()).to_dict()
    assert body["search_after"] == after
    assert body["from"] == 0  # page numbers are ignored with a cursor
    assert body["sort"] == [{"reference_code.raw": "asc"}, {"doc_id": "asc"}]


def test_suggest_json():
    body = build_suggest("J012-WS", Visibility(), size=5).to_dict()
    assert body["size"] == 5
    assert body["query"]["bool"]["filter"] == [{"term": {"is_public": True}}]
    assert body["query"]["bool"]["minimum_should_match"] == 1
    assert body["query"]["bool"]["should"][0] == {
        "prefix": {"reference_code.raw": {"value": "J012-WS", "boost": 5}}
    }


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
    from search.documents import build_document, iter_documents

    for kind, model in (("item", type(catalogue["code"])), ("volume", type(catalogue["volume"]))):
        streamed = {d["pk"]: d for d in iter_documents(kind)}
        for record in model.objects.all():
            assert streamed[record.pk] == build_document(record)
