"""The search doors: public page, staff page, type-ahead endpoints and /api/v1/search/ —
contract per backend, bad input answered with a reason, engine outage answered clearly."""

from __future__ import annotations

import pytest

from search.backends import use_backend
from search.backends.elasticsearch import ElasticsearchBackend

BAD = [
    {"q": "档" * 1_000},  # past the search limit (200), under the edge cap on query values
    {"size": "100000"},
    {"page": "-1"},
    {"page": "abc"},
    {"facets": "nonsense"},
    {"sort": "random"},
    {"year_from": "x"},
    {"cursor": "%%%"},
]
ODD = [{"q": ""}, {"q": "*"}, {"q": '"('}, {"q": "\\"}, {"q": "\\\\\\"}, {"q": "a)(|&!"}]


@pytest.fixture
def staff(approver_secret, catalogue):
    """An approver cleared to 机密 with a permission on both fonds."""
    from accounts.permissions import grant

    for fonds in catalogue["fonds"].values():
        grant("repository.view_fonds_records", approver_secret, fonds)
    return approver_secret


def test_public_page_finds_open_records_with_links(client, indexed):
    response = client.get("/search/", {"q": "档案馆"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "J012-WS·2019-Y-BGS-0001" in body
    assert "<mark>" in body
    item = indexed["code"]
    assert f"/catalogue/item/{item.pk}/" in body
    assert f"/requests/new/?item={item.pk}" in body


def test_public_page_without_query_shows_the_form(client, indexed):
    response = client.get("/search/")
    assert response.status_code == 200
    assert b'name="q"' in response.content


@pytest.mark.parametrize("params", BAD)
def test_public_page_bad_input_is_a_400_with_reason(client, indexed, params):
    response = client.get("/search/", params)
    assert response.status_code == 400
    assert b"search-errors" in response.content


@pytest.mark.parametrize("params", ODD)
def test_public_page_odd_queries_are_fine(client, indexed, params):
    assert client.get("/search/", params).status_code == 200


def test_staff_page_has_facets_and_filters(client_for, staff, indexed):
    client = client_for(staff)
    response = client.get("/staff/search/", {"q": "档案", "carrier": "paper"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "J012-WS·2016-Y-BGS-0007" in body  # 机密, within clearance
    for facet in ("fonds", "category", "year", "carrier", "retention", "access_status"):
        assert f'name="{facet}"' in body
    assert f"/staff/catalogue/item/{indexed['confidential_a'].pk}/" in body


def test_staff_page_deep_pagination_with_cursor(client_for, staff, indexed):
    client = client_for(staff)
    first = client.get("/staff/search/", {"sort": "code", "size": "2"})
    assert first.status_code == 200
    cursor = first.context["result"].next_cursor
    second = client.get("/staff/search/", {"sort": "code", "size": "2", "cursor": cursor})
    assert second.status_code == 200
    first_codes = [h.doc["reference_code"] for h in first.context["result"].hits]
    second_codes = [h.doc["reference_code"] for h in second.context["result"].hits]
    assert first_codes[-1] < second_codes[0]


def test_staff_page_needs_staff(client_for, researcher, client):
    assert client.get("/staff/search/").status_code == 302
    assert client_for(researcher).get("/staff/search/").status_code == 404


def test_suggest_endpoints(client, client_for, staff, indexed):
    public = client.get("/search/suggest/", {"q": "J012-WS·2018"}).json()
    assert public == {"suggestions": []}  # controlled record
    found = client_for(staff).get("/staff/search/suggest/", {"q": "J012-WS·2018"}).json()
    assert [s["reference_code"] for s in found["suggestions"]] == ["J012-WS·2018-Y-BGS-0005"]
    assert client.get("/search/suggest/", {"q": "x" * 101}).status_code == 400


def test_api_search(client, indexed):
    response = client.get("/api/v1/search/", {"q": "合同", "facets": "fonds,year"})
    assert response.status_code == 200
    data = response.json()
    assert data["total"] == 1  # the other 合同 record is controlled
    assert data["results"][0]["reference_code"] == "J012-KJ·2019-Y-JJC-0001"
    assert data["results"][0]["id"] == indexed["contract"].pk
    assert data["facets"]["fonds"] == [
        {"value": indexed["fonds"]["A"].pk, "label": "J012 市档案局", "count": 1}
    ]
    assert "highlights" in data["results"][0]


@pytest.mark.parametrize("params", BAD)
def test_api_bad_input_is_a_400_with_reason(client, indexed, params):
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 400
    assert response.json()["errors"]


@pytest.mark.parametrize("params", ODD)
def test_api_odd_queries_are_fine(client, indexed, params):
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 200
    assert response.json()["total"] >= 0


@pytest.mark.parametrize(
    ("sort", "after"),
    [("-date", ["not a day", "item-1"]), ("date", ["2019-13-45", "item-1"])],
)
def test_api_cursor_that_does_not_fit_the_sort_is_a_400(client, indexed, sort, after):
    from search.query import encode_cursor

    params = {"q": "档案", "sort": sort, "cursor": encode_cursor(after)}
    response = client.get("/api/v1/search/", params)
    assert response.status_code == 400
    assert response.json()["errors"]["cursor"]
    relevance = client.get("/api/v1/search/", {"q": "档案", "cursor": encode_cursor(after)})
    assert relevance.status_code == 400  # a day where a score (or a newest-first day) belongs


def test_api_says_whether_facet_counts_are_exact(client, indexed):
    data = client.get("/api/v1/search/", {"q": "档案", "facets": "fonds"}).json()
    assert data["facets_exact"] is True and data["total_exact"] is True


def test_api_cursor_walk(client, indexed):
    seen, params = [], {"size": "3", "sort": "code"}
    while True:
        data = client.get("/api/v1/search/", params).json()
        seen += [r["reference_code"] for r in data["results"]]
        if not data["next_cursor"]:
            break
        params["cursor"] = data["next_cursor"]
    assert seen == sorted(seen) and len(seen) == 7


@pytest.fixture
def engine_down(db):
    down = ElasticsearchBackend("http://127.0.0.1:9", index_prefix="lantai_down", timeout=0.5)
    with use_backend(down):
        yield down


def test_engine_down_pages_say_so_clearly(client, client_for, staff, engine_down):
    response = client.get("/search/", {"q": "档案"})
    assert response.status_code == 503
    assert b"search-degraded" in response.content
    assert client_for(staff).get("/staff/search/").status_code == 503
    api = client.get("/api/v1/search/", {"q": "档案"})
    assert api.status_code == 503 and "unavailable" in api.json()["detail"]
    assert client.get("/search/suggest/", {"q": "档案"}).status_code == 503


def test_openapi_schema_lists_search():
    from pathlib import Path

    schema = Path(__file__).resolve().parents[2] / "openapi.yaml"
    text = schema.read_text()
    assert "/api/v1/search/:" in text and "/api/v1/search/suggest/:" in text
