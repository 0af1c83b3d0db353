"""Contract cases of issue 16 (智能检索), run unchanged on every backend (SQLite or PostgreSQL,
whichever the suite uses, and Elasticsearch): query understanding (``search.analysis``) and
relevance (``search.ranking``). The ranking cases failed on the PostgreSQL backend before
positions and ``ts_rank_cd`` (its ``ts_rank`` tied and page one came in id order)."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.choices import Classification
from repository.choices import AccessStatus, Carrier, Retention
from repository.models import Item
from search.outbox import enqueue
from search.query import SearchInputError, SearchRequest, Visibility
from tests.search.conftest import sync

PUBLIC = Visibility()
EVERYTHING = Visibility(public_only=False, fonds_ids=None, clearance=3)


def codes(result) -> list[str]:
    return [h.doc["reference_code"] for h in result.hits]


def run(backend, query="", visibility=EVERYTHING, **kwargs):
    return backend.search(SearchRequest(query=query, **kwargs), visibility)


@pytest.fixture
def add(catalogue, backend):
    """Create open records (in order: later ones get larger ids) and index them."""
    fonds = catalogue["fonds"]["A"]
    category = catalogue["categories"][("A", "WS")]
    made: list[Item] = []

    def make(title, year=2010, *, notes="", creator="", carrier="paper", code=None):
        item = Item.objects.create(
            fonds=fonds,
            category=category,
            reference_code=code or f"T-{year}-{len(made) + 1:04d}",
            title=title,
            creator=creator,
            date_start=dt.date(year, 5, 1),
            filing_year=year,
            access_status=AccessStatus.OPEN,
            classification=Classification.NONE,
            carrier=Carrier(carrier),
            retention=Retention.PERMANENT,
            notes=notes,
        )
        enqueue(item)
        made.append(item)
        return item

    def index():
        sync(backend)

    make.index = index
    return make


# --- 1. query understanding ---------------------------------------------------------------
def test_traditional_and_simplified_find_each_other(backend, add):
    simplified = add("会议纪要汇编")
    traditional = add("檔案館會議記錄")
    add.index()
    assert simplified.reference_code in codes(run(backend, "會議紀要"))
    assert codes(run(backend, "档案馆会议")) == [traditional.reference_code]


def test_full_width_and_chinese_numerals(backend, add):
    building = add("3号楼竣工图")
    repair = add("三号楼维修记录")
    year = add("二〇一九年防汛总结")
    add.index()
    assert set(codes(run(backend, "三号楼"))) == {building.reference_code, repair.reference_code}
    assert set(codes(run(backend, "３号楼"))) == {building.reference_code, repair.reference_code}
    assert codes(run(backend, "2019年防汛")) == [year.reference_code]
    assert codes(run(backend, "二零一九年防汛")) == [year.reference_code]


def test_numerals_inside_words_stay_words(backend, add):
    unified = add("统一规划方案")
    add("1规划图")
    add.index()
    assert codes(run(backend, "统一规划")) == [unified.reference_code]


def test_code_with_any_separator_or_none(backend, indexed):
    code = "J012-WS·2019-Y-BGS-0001"
    for typed in ("J012WS2019YBGS0001", "j012.ws.2019.y.bgs.0001", "J012-WS-2019-Y-BGS-0001"):
        assert codes(run(backend, typed))[0] == code, typed


def test_year_range_in_the_box_is_the_year_filter(backend, add):
    inside = add("防汛照片", 1992, carrier="photo")
    add("防汛照片", 2001, carrier="photo")
    add("防汛照片", 1989, carrier="photo")
    add.index()
    for typed in ("1990-1995 防汛照片", "一九九〇至一九九五年 防汛照片", "防汛照片 1990~1995"):
        result = run(backend, typed)
        assert codes(result) == [inside.reference_code], typed
        assert result.total == 1


def test_quoted_phrase_must_stand_together(backend, add):
    together = add("建设工程施工合同")
    add("工程建设与施工合同管理")
    add.index()
    assert codes(run(backend, '"工程施工合同"')) == [together.reference_code]
    assert codes(run(backend, "“工程施工合同”")) == [together.reference_code]


def test_minus_word_excludes(backend, indexed):
    # today "A -B" returned only B: the minus must exclude
    assert codes(run(backend, "合同 -基建")) == ["J013-WS·2019-Y-BGS-0001"]
    assert codes(run(backend, "合同 -征集")) == ["J012-KJ·2019-Y-JJC-0001"]


@pytest.mark.parametrize(
    "typed",
    ['合同 -"工程"', "合同 -“基建工程”", "合同 -「工程」", '-"基建" 合同', '合同 -"基建  工程"'],
)
def test_a_minus_before_a_quoted_phrase_excludes_the_phrase(backend, indexed, typed):
    """The quotes were taken out before the minus was read: ``-"工程"`` searched *for* 工程
    (``合同 -"工程"`` found only 2019年基建工程合同, the one record it was to leave out)."""
    for visibility in (EVERYTHING, PUBLIC):
        result = run(backend, typed, visibility, facets=("fonds",))
        expected = ["J013-WS·2019-Y-BGS-0001"] if visibility is EVERYTHING else []
        assert codes(result) == expected, typed  # 档案征集合同（乙）, not public
        assert result.total == len(expected)
        assert sum(b.count for b in result.facets["fonds"]) == len(expected)


def test_a_minus_phrase_excludes_only_where_the_phrase_stands_together(backend, indexed):
    both = {"J012-KJ·2019-Y-JJC-0001", "J013-WS·2019-Y-BGS-0001"}
    assert set(codes(run(backend, "合同"))) == both
    assert set(codes(run(backend, '合同 -"工程基建"'))) == both  # 基建工程合同 has no 工程基建
    assert codes(run(backend, '合同 "基建工程"')) == ["J012-KJ·2019-Y-JJC-0001"]  # as before
    # a minus inside a word excludes nothing: 合同- and 工程 are both looked for
    assert codes(run(backend, '合同-"工程"')) == ["J012-KJ·2019-Y-JJC-0001"]


@pytest.mark.parametrize(
    "query",
    ["-基建", "-基建 -征集", "-J012", "1990-2020 -合同", '-"基建"', '-"基建工程" -征集', "-“合同”"],
)
def test_a_query_of_exclusions_only_is_refused_with_a_reason(backend, indexed, query):
    """Every backend ignored the minus when nothing else was asked: "-基建" listed everything
    the caller may see, 基建 records included. "Everything but X" cannot be answered within
    the database backend's budget (a sequential scan when X is in most records), so every
    backend refuses it alike, for every caller; type-ahead suggests nothing (a code prefix
    such as "-J012" suggested J012 codes)."""
    for visibility in (PUBLIC, EVERYTHING):
        with pytest.raises(SearchInputError) as refused:
            run(backend, query, visibility, facets=("fonds",))
        assert list(refused.value.errors) == ["q"]
        assert backend.suggest(query, visibility) == []


def test_a_minus_word_still_narrows_a_search_that_has_words(backend, indexed):
    result = run(backend, "合同 -基建 -工程", PUBLIC, facets=("fonds",))
    assert codes(result) == [] and result.total == 0  # 档案征集合同 is not public
    result = run(backend, "合同 -基建", EVERYTHING, facets=("fonds",))
    assert codes(result) == ["J013-WS·2019-Y-BGS-0001"] and result.total == 1
    assert sum(b.count for b in result.facets["fonds"]) == 1
    assert codes(run(backend, "- 合同", PUBLIC)) == ["J012-KJ·2019-Y-JJC-0001"]  # a lone "-"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("馆", {"J012-WS·2019-Y-BGS-0001", "J012-WS·2021-D10-BGS-0004"}),  # 档案馆, 馆舍
        ("卷", {"J012-WS·2021-D10-BGS-0004"}),  # 案卷 in the notes
    ],
)
def test_a_lone_character_matches_inside_words(backend, indexed, query, expected):
    assert set(codes(run(backend, query, PUBLIC))) == expected


def test_stop_characters_never_make_a_query_impossible(backend, indexed):
    assert codes(run(backend, "关于 的 请示")) == ["J012-WS·2019-Y-BGS-0001"]
    assert "J012-WS·2019-Y-BGS-0001" in codes(run(backend, "的"))


def test_n_year_matches_the_text_or_the_record_year(backend, indexed):
    found = set(codes(run(backend, "2019年", PUBLIC, size=50)))
    assert "J012-KJ·2019-Y-JJC-0001" in found  # 2019年基建工程合同
    assert "J012-WS·2019-Y-BGS-0002" in found  # 年度工作总结, of 2019
    assert "J012-WS·2020-D30-BGS-0003" not in found


def test_loose_paraphrase_matches_enough_bigrams(backend, add):
    contract = add("建设工程施工合同")
    add("建设规划")
    add.index()
    assert codes(run(backend, "建设合同")) == [contract.reference_code]
    # 2019年基建工程合同 of the catalogue holds 工程合同 as typed: it comes first
    assert codes(run(backend, "工程合同")) == ["J012-KJ·2019-Y-JJC-0001", contract.reference_code]


def test_english_plurals(backend, add):
    minutes = add("Board meeting records")
    add.index()
    assert codes(run(backend, "record")) == [minutes.reference_code]
    assert codes(run(backend, "Meetings")) == [minutes.reference_code]


# --- 2. ranking -----------------------------------------------------------------------------
def test_phrase_outranks_scattered_bigrams(backend, add):
    scattered = add("书馆与图书资料")
    phrase = add("图书馆资料")
    add.index()
    assert codes(run(backend, "图书馆")) == [phrase.reference_code, scattered.reference_code]


def test_whole_title_outranks_a_longer_title(backend, add):
    longer = add("防汛会议纪要汇编")
    whole = add("防汛会议纪要")
    add.index()
    assert codes(run(backend, "防汛会议纪要")) == [whole.reference_code, longer.reference_code]


def test_recency_breaks_ties(backend, add):
    older = add("防汛工作通知", 2001)
    newer = add("防汛工作通知", 2015)
    add.index()
    assert codes(run(backend, "防汛通知")) == [newer.reference_code, older.reference_code]


def test_title_match_outranks_creator_and_notes(backend, add):
    in_notes = add("年度报告", notes="附预算表")
    by_creator = add("年度报告", creator="预算科")
    in_title = add("预算报告")
    add.index()
    assert codes(run(backend, "预算")) == [
        in_title.reference_code,
        by_creator.reference_code,
        in_notes.reference_code,
    ]


def test_more_of_the_query_outranks_less(backend, add):
    partial = add("关于防汛物资的通知")
    full = add("关于防汛物资调拨的紧急通知")
    add.index()
    assert codes(run(backend, "防汛物资调拨"))[0] == full.reference_code
    assert partial.reference_code not in codes(run(backend, "防汛物资调拨"))


# --- 3. pinyin ------------------------------------------------------------------------------
def test_pinyin_and_initials_find_titles_and_creators(backend, add):
    minutes = add("防汛会议纪要")
    add.index()
    for typed in ("huiyi", "HuiYi", "huiyijiyao", "hyjy", "fxhyjy"):
        assert codes(run(backend, typed, PUBLIC)) == [minutes.reference_code], typed
    assert codes(run(backend, "zhangwei")) == ["J012-WS·2020-D30-BGS-0003"]  # creator 张伟


def test_pinyin_is_only_a_fallback_for_latin_text(backend, add):
    latin = add("Huiyi project files")
    add("会议纪要")
    add.index()
    assert codes(run(backend, "huiyi")) == [latin.reference_code]


def test_polyphonic_characters_are_found_by_either_reading(backend, add):
    chongqing = add("重庆分馆")
    add.index()
    assert codes(run(backend, "chongqing")) == [chongqing.reference_code]
    assert codes(run(backend, "zhongqing")) == [chongqing.reference_code]


def test_type_ahead_by_pinyin_code_prefix_and_creator(backend, add):
    minutes = add("防汛会议纪要")
    add.index()
    assert minutes.reference_code in {s.reference_code for s in backend.suggest("huiy", PUBLIC)}
    assert minutes.reference_code in {s.reference_code for s in backend.suggest("fxhy", PUBLIC)}
    lower = backend.suggest("j012-kj", EVERYTHING)  # a lower-case code prefix
    assert [s.reference_code for s in lower] == ["J012-KJ·2019-Y-JJC-0001"]
    by_creator = {s.reference_code for s in backend.suggest("张伟", EVERYTHING)}
    assert by_creator == {"J012-WS·2020-D30-BGS-0003"}


def test_pinyin_type_ahead_respects_visibility(backend, indexed):
    # 档案机密会议纪要 (机密) and 档案移交清单（控制） are hidden from the public
    public = {s.reference_code for s in backend.suggest("dangan", PUBLIC, size=50)}
    assert "J012-WS·2016-Y-BGS-0007" not in public
    assert "J012-WS·2018-Y-BGS-0005" not in public
    assert "J013-RS·2015-Y-RSC-0001" in public  # 人事档案目录
    staff = {s.reference_code for s in backend.suggest("dangan", EVERYTHING, size=50)}
    assert "J012-WS·2016-Y-BGS-0007" in staff


# --- 4. highlighting ------------------------------------------------------------------------
def _title_mark(backend, query, code):
    hits = {h.doc["reference_code"]: h for h in run(backend, query).hits}
    return hits[code].highlights["title"][0]


def test_highlights_stop_at_token_boundaries(backend, add):
    numbers = add("2011年 11号楼")
    words = add("Cooperation on archives")
    add.index()
    assert _title_mark(backend, "11", numbers.reference_code) == "2011年 <mark>11</mark>号楼"
    assert (
        _title_mark(backend, "on", words.reference_code) == "Cooperation <mark>on</mark> archives"
    )


def test_highlights_mark_the_text_as_written(backend, add):
    year = add("二〇一九年會議紀要")
    add.index()
    marked = _title_mark(backend, "2019年会议", year.reference_code)
    assert marked == "<mark>二〇一九年會議</mark>紀要"


def test_highlights_are_escaped(backend, add):
    tagged = add('<b onclick="x">防汛</b> & 预案')
    add.index()
    marked = _title_mark(backend, "防汛", tagged.reference_code)
    assert marked == "&lt;b onclick=&quot;x&quot;&gt;<mark>防汛</mark>&lt;/b&gt; &amp; 预案"


def test_pinyin_matches_mark_the_characters_they_read(backend, add):
    minutes = add("防汛会议纪要", creator="张伟")
    add.index()
    for typed, marked in [
        ("huiyi", "防汛<mark>会议</mark>纪要"),
        ("HuiYi", "防汛<mark>会议</mark>纪要"),
        ("hyjy", "防汛<mark>会议纪要</mark>"),
        ("fxhyjy", "<mark>防汛会议纪要</mark>"),
    ]:
        assert _title_mark(backend, typed, minutes.reference_code) == marked, typed
    hit = run(backend, "zhangwei").hits
    by_code = {h.doc["reference_code"]: h for h in hit}
    assert by_code[minutes.reference_code].highlights["creator"] == ["<mark>张伟</mark>"]
    assert "title" not in by_code[minutes.reference_code].highlights


def test_pinyin_marks_are_whole_characters_as_written_and_escaped(backend, add):
    written = add("<b>會議</b>纪要 & 会计")
    add.index()
    assert _title_mark(backend, "huiyi", written.reference_code) == (
        "&lt;b&gt;<mark>會議</mark>&lt;/b&gt;纪要 &amp; 会计"
    )
    # 会 of 会计 reads kuai there (or hui): the initials hj mark it, never half a word
    assert _title_mark(backend, "hj", written.reference_code) == (
        "&lt;b&gt;會議&lt;/b&gt;纪要 &amp; <mark>会计</mark>"
    )


# --- 5. bad input ---------------------------------------------------------------------------
def test_a_refused_document_is_isolated_with_its_reason(backend, indexed):
    from search.documents import build_document

    first, bad, last = (indexed[k] for k in ("code2", "loan", "unrelated"))
    docs = [
        build_document(first) | {"version": 9, "title": "甲乙丙丁之一"},
        # an id no engine stores (beyond 64 bits): every backend refuses this one document
        build_document(bad) | {"version": 9, "fonds_id": 2**70},
        build_document(last) | {"version": 9, "title": "甲乙丙丁之二"},
    ]
    result = backend.index_documents(docs)
    assert result.indexed == 2
    assert result.failed == {f"item-{bad.pk}"}
    assert len(result.errors) == 1 and result.errors[0].startswith(f"item-{bad.pk}: ")
    backend.refresh()
    found = set(codes(run(backend, "甲乙丙丁")))
    assert found == {first.reference_code, last.reference_code}


def test_a_two_kilobyte_word_never_stops_indexing(backend, add):
    url = add("链接附注", notes="https://example.org/" + "a1" * 1100)
    later = add("之后建的记录")
    add.index()  # PostgreSQL refused the whole batch before ("word is too long")
    assert codes(run(backend, "链接附注")) == [url.reference_code]
    assert codes(run(backend, "之后")) == [later.reference_code]


def test_narrowed_visibility_is_hidden_while_the_index_is_behind(backend, indexed):
    """Stop the sync, reclassify, search as the public: the record is gone from results,
    totals, facets and suggestions at once, though the index still holds it as open."""
    from search.services import search_records, suggest_records

    item = indexed["code"]  # 关于档案馆建设的请示, open
    before = search_records(None, SearchRequest(query="档案馆", facets=("fonds",)))
    assert codes(before) == [item.reference_code]
    item.classification = Classification.SECRET
    item.access_status = AccessStatus.CONTROLLED
    item.version += 1
    item.save()
    enqueue(item)  # ... and no sync: the index is behind
    assert item.reference_code in codes(run(backend, "档案馆", PUBLIC))  # the raw index
    after = search_records(None, SearchRequest(query="档案馆", facets=("fonds",)))
    assert codes(after) == [] and after.total == 0
    assert after.facets["fonds"] == []
    everything = search_records(None, SearchRequest(query="档案", facets=("access_status",)))
    assert item.reference_code not in codes(everything)
    assert everything.total == 2
    assert sum(b.count for b in everything.facets["access_status"]) == 2
    suggested = {s.reference_code for s in suggest_records(None, "档案馆")}
    assert item.reference_code not in suggested
    assert item.reference_code not in {s.reference_code for s in suggest_records(None, "J012")}
    sync(backend)  # once the index caught up, the rule holds on its own
    assert codes(search_records(None, SearchRequest(query="档案馆"))) == []


def test_a_deleted_record_is_hidden_while_the_index_is_behind(backend, indexed):
    from search.services import search_records

    item = indexed["loan"]
    code = item.reference_code
    enqueue(item, deleted=True)
    item.delete()
    assert codes(search_records(None, SearchRequest(query="借阅"))) == []
    assert code in codes(run(backend, "借阅", PUBLIC))  # the raw index still has it


@pytest.mark.parametrize("typed", ["x", "p", "v", "x y", "i u v", "x 会议", '"x"'])
def test_latin_letters_that_read_as_no_pinyin_never_break_a_search(backend, add, typed):
    """A lone letter is no pinyin syllable and too short for initials: the fallback keeps the
    word itself (found nowhere here) instead of an empty clause — PostgreSQL's backend wrote
    that as the tsquery "()" and answered 500 to ``/staff/search/?q=x``."""
    add("防汛会议纪要")
    add.index()
    for visibility in (PUBLIC, EVERYTHING):
        found = codes(run(backend, typed, visibility, facets=("fonds", "year")))
        assert found == [], typed  # no record holds the letter
    backend.suggest(typed, PUBLIC)
