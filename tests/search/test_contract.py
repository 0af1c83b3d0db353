"""One contract, every backend: the same tests run against the database backend (PostgreSQL
full text or SQLite FTS5, whichever database the suite uses) and Elasticsearch (when
ELASTICSEARCH_URL is set; in CI it is)."""

from __future__ import annotations

import pytest

from search.documents import build_document
from search.query import SearchRequest, Visibility, decode_cursor
from tests.search.conftest import sync

PUBLIC = Visibility()
EVERYTHING = Visibility(public_only=False, fonds_ids=None, clearance=3)


def codes(result) -> list[str]:
    return [h.doc["reference_code"] for h in result.hits]


def run(backend, query="", visibility=EVERYTHING, **kwargs):
    return backend.search(SearchRequest(query=query, **kwargs), visibility)


def test_two_character_word_matches(backend, indexed):
    found = set(codes(run(backend, "合同")))
    assert found == {
        "J012-KJ·2019-Y-JJC-0001",  # 基建工程合同
        "J013-WS·2019-Y-BGS-0001",  # 档案征集合同
    }


def test_borrowing_word(backend, indexed):
    assert codes(run(backend, "借阅")) == ["J012-WS·2020-D30-BGS-0003"]


def test_characters_present_but_not_adjacent_do_not_match(backend, indexed):
    # 档 and 馆 both occur in 档案馆, but the bigram 档馆 occurs nowhere.
    assert codes(run(backend, "档馆")) == []
    # 馆舍 matches only the record that has it as a word.
    assert codes(run(backend, "馆舍")) == ["J012-WS·2021-D10-BGS-0004"]


def test_three_character_word_needs_both_bigrams(backend, indexed):
    assert codes(run(backend, "档案馆")) == ["J012-WS·2019-Y-BGS-0001"]


def test_mixed_chinese_latin_digits(backend, indexed):
    result = run(backend, "2019 基建 合同")
    assert codes(result) == ["J012-KJ·2019-Y-JJC-0001"]


def test_name_search(backend, indexed):
    assert codes(run(backend, "张伟")) == ["J012-WS·2020-D30-BGS-0003"]


def test_exact_reference_code_is_first_and_only(backend, indexed):
    result = run(backend, "J012-WS·2019-Y-BGS-0001")
    assert codes(result)[0] == "J012-WS·2019-Y-BGS-0001"
    assert "J012-WS·2019-Y-BGS-0002" not in codes(result)
    assert "J013-WS·2019-Y-BGS-0001" not in codes(result)


def test_a_title_match_outranks_a_match_in_the_notes(backend, indexed):
    # Equal otherwise, ties go to the smaller doc_id: give that one the word in its notes (three
    # times), so only a real title weight can put the other first.
    first, second = sorted([indexed["code2"], indexed["loan"]], key=lambda i: f"item-{i.pk}")
    in_notes = build_document(first) | {"version": 9, "notes": "标准 标准 标准"}
    in_title = build_document(second) | {"version": 9, "title": "标准化工作"}
    backend.index_documents([in_notes, in_title])
    backend.refresh()
    assert codes(run(backend, "标准")) == [second.reference_code, first.reference_code]


def test_public_sees_only_open_unclassified(backend, indexed):
    result = run(backend, "档案", visibility=PUBLIC)
    assert set(codes(result)) == {
        "J012-WS·2019-Y-BGS-0001",
        "J013-RS·2015-Y-RSC-0001",
        "J012-WS·2019-Y-BGS-V01",
    }
    assert result.total == 3


def test_staff_visibility_by_fonds_and_clearance(backend, indexed):
    fonds_a = indexed["fonds"]["A"].pk
    seen = set(codes(run(backend, "档案", Visibility(False, (fonds_a,), 1))))
    assert "J012-WS·2017-Y-BGS-0006" in seen  # 秘密 in fonds A
    assert "J012-WS·2016-Y-BGS-0007" not in seen  # 机密: above clearance
    assert "J012-WS·2018-Y-BGS-0005" in seen  # controlled in fonds A
    assert "J013-WS·2019-Y-BGS-0001" not in seen  # controlled in fonds B
    assert "J013-RS·2015-Y-RSC-0001" in seen  # public record of fonds B


def test_filters_and_facets(backend, indexed):
    result = run(
        backend,
        "",
        facets=("fonds", "category", "year", "carrier", "retention", "access_status"),
        filters={"year_from": 2019, "year_to": 2020},
    )
    years = {b.value: b.count for b in result.facets["year"]}
    assert years == {2019: 5, 2020: 1}
    assert result.total == 6
    carriers = {b.value: b.count for b in result.facets["carrier"]}
    assert carriers == {"paper": 5, "electronic": 1}
    only_b = run(backend, "", filters={"fonds": [indexed["fonds"]["B"].pk]})
    assert set(codes(only_b)) == {"J013-WS·2019-Y-BGS-0001", "J013-RS·2015-Y-RSC-0001"}
    photos = run(backend, "", filters={"carrier": ["photo"], "kind": ["item"]})
    assert codes(photos) == ["J012-WS·2021-D10-BGS-0004"]


def test_facets_count_only_visible_records(backend, indexed):
    result = run(backend, "", visibility=PUBLIC, facets=("access_status", "fonds"))
    assert {b.value: b.count for b in result.facets["access_status"]} == {"open": 7}
    assert sum(b.count for b in result.facets["fonds"]) == result.total == 7


def test_sort_by_code_and_date(backend, indexed):
    by_code = codes(run(backend, "", PUBLIC, sort="code", size=100))
    assert by_code == sorted(by_code)
    by_date = [h.doc["date_start"] for h in run(backend, "", PUBLIC, sort="-date").hits]
    assert by_date == sorted(by_date, reverse=True)


@pytest.mark.parametrize("sort", ["relevance", "code", "date", "-date"])
def test_cursor_pagination_walks_everything_once(backend, indexed, sort):
    query = "档案" if sort == "relevance" else ""
    everything = run(backend, query, sort=sort, size=100)
    seen = []
    request = SearchRequest(query=query, sort=sort, size=2)
    while True:
        page = backend.search(request, EVERYTHING)
        seen.extend(codes(page))
        if not page.next_cursor:
            break
        request = SearchRequest(
            query=query, sort=sort, size=2, after=decode_cursor(page.next_cursor)
        )
    assert seen == codes(everything)
    assert len(seen) == everything.total


def test_page_numbers(backend, indexed):
    first = run(backend, "", sort="code", size=3, page=1)
    second = run(backend, "", sort="code", size=3, page=2)
    assert not set(codes(first)) & set(codes(second))
    assert codes(first) + codes(second) == codes(run(backend, "", sort="code", size=6))


def test_highlights_mark_terms_and_escape_html(backend, indexed):
    result = run(backend, "档案", visibility=PUBLIC)
    by_code = {h.doc["reference_code"]: h for h in result.hits}
    title = by_code["J013-RS·2015-Y-RSC-0001"].highlights["title"][0]
    assert "<mark>" in title and "档" in title
    notes = by_code["J013-RS·2015-Y-RSC-0001"].highlights.get("notes", [""])[0]
    assert "<script>" not in notes


def test_suggestions_by_code_prefix_and_title(backend, indexed):
    by_code = backend.suggest("J012-KJ", EVERYTHING)
    assert [s.reference_code for s in by_code] == ["J012-KJ·2019-Y-JJC-0001"]
    by_title = backend.suggest("基建", EVERYTHING)
    assert "J012-KJ·2019-Y-JJC-0001" in [s.reference_code for s in by_title]


def test_suggestions_respect_visibility(backend, indexed):
    suggested = {s.reference_code for s in backend.suggest("档案", PUBLIC, size=50)}
    assert "J012-WS·2018-Y-BGS-0005" not in suggested
    assert "J012-WS·2016-Y-BGS-0007" not in suggested
    assert not {s.reference_code for s in backend.suggest("J013-WS", PUBLIC)}


@pytest.mark.parametrize("query", ["*", '"(', "\\", "\\\\*", "a AND (", "OR", "'; DROP", "¿?"])
def test_odd_queries_answer_sanely(backend, indexed, query):
    result = run(backend, query, visibility=PUBLIC)
    assert result.total >= 0


def test_older_version_never_overwrites_newer(backend, indexed):
    item = indexed["loan"]
    newer = build_document(item) | {"version": 5, "title": "新题名 借阅"}
    older = build_document(item) | {"version": 3, "title": "旧题名"}
    assert backend.index_documents([newer]).indexed == 1
    assert backend.index_documents([older]).skipped_stale == 1
    backend.refresh()
    assert backend.versions([newer["doc_id"]]) == {newer["doc_id"]: 5}
    assert codes(run(backend, "旧题")) == []
    assert codes(run(backend, "新题")) == [item.reference_code]


def test_delete_respects_versions(backend, indexed):
    item = indexed["loan"]
    key = f"item-{item.pk}"
    backend.index_documents([build_document(item) | {"version": 7}])
    assert backend.delete_documents([(key, 6)]).skipped_stale == 1
    backend.refresh()
    assert key in backend.versions([key])
    backend.delete_documents([(key, 7)])
    backend.refresh()
    assert backend.versions([key]) == {}
    assert codes(run(backend, "借阅")) == []


def test_outbox_change_reaches_search(backend, indexed):
    from search.outbox import enqueue

    item = indexed["controlled"]
    assert item.reference_code not in codes(run(backend, "移交", PUBLIC))
    item.access_status = "open"  # the opening review opens it
    item.version += 1
    item.save()
    enqueue(item)
    sync(backend)
    assert codes(run(backend, "移交", PUBLIC)) == [item.reference_code]


def test_count_and_iter_versions(backend, indexed):
    assert backend.count() == 11
    assert len(dict(backend.iter_versions())) == 11


def test_totals_are_capped_the_same_way(backend, indexed, monkeypatch):
    """Counting stops at the cap (Elasticsearch's track_total_hits; a LIMITed count in the
    database); below it totals are exact."""
    import search.backends.database as database
    import search.backends.elasticsearch as elasticsearch

    monkeypatch.setattr(database, "TOTAL_CAP", 3)
    monkeypatch.setattr(elasticsearch, "TOTAL_CAP", 3)
    capped = run(backend, "档案")
    assert capped.total == 3 and not capped.total_exact
    assert len(capped.hits) > 3  # every match is still found and paged
    exact = run(backend, "合同")
    assert exact.total == 2 and exact.total_exact


def test_broad_relevance_query_pages_consistently(backend, indexed, monkeypatch):
    import search.backends.database as database
    import search.backends.elasticsearch as elasticsearch

    monkeypatch.setattr(database, "TOTAL_CAP", 3)
    monkeypatch.setattr(elasticsearch, "TOTAL_CAP", 3)
    everything = {h.doc["reference_code"] for h in run(backend, "档案", size=100).hits}
    seen = []
    request = SearchRequest(query="档案", size=2)
    while True:
        page = backend.search(request, EVERYTHING)
        seen.extend(codes(page))
        if not page.next_cursor:
            break
        request = SearchRequest(query="档案", size=2, after=decode_cursor(page.next_cursor))
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
