"""Golden outputs of document building: the exact ``pg_lexemes`` (PostgreSQL ``tsvector``
literal) and ``analysed`` (token streams of SQLite and Elasticsearch) of a fixed, varied corpus,
recorded from the analysis before it was made fast (issue 16). A speed-up must not change a
single character of either.

The corpus (``golden_documents.json``) holds its inputs: demo-like records (titles, creators and
codes of ``repository.demo``), traditional characters, Chinese numerals, polyphonic characters,
full-width and odd Unicode, long words and empty fields. Two documents with notes and page text
longer than what is analysed are built here (``_long_documents``) and compared by digest.

Only after a deliberate change of the analysis, record again (and say why in the commit):

    LANTAI_WRITE_GOLDEN=1 .venv/bin/python -m pytest tests/search/test_document_golden.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from search import analysis
from search.backends.database import model_values, row_values
from search.tokens import NOTES_ANALYSED, PAGES_ANALYSED, analysed, pg_lexemes

GOLDEN = Path(__file__).with_name("golden_documents.json")
FIELDS = ("reference_code", "title", "creator", "keywords", "notes", "page_text")

HANDMADE: list[dict[str, Any]] = [
    {"title": "", "creator": None, "keywords": None, "notes": "", "reference_code": ""},
    {"title": "会", "creator": "", "keywords": "", "notes": "", "reference_code": "A"},
    {"title": "會議紀要", "creator": "市檔案館", "keywords": "乾隆;頭髮;後來", "notes": "著作權"},
    {"title": "臺灣總督府檔案資料彙編", "creator": "國史館臺灣文獻館", "notes": "乾燥的天氣"},
    {"title": "二〇一九年工作总结", "creator": "办公室", "keywords": "第十二卷 三号楼"},
    {"title": "一百二十三号文件", "notes": "统一 一般 万一 千万 十万 两千年 二零零八年 十二月"},
    {"title": "第一百零五次会议", "notes": "三四个人 五六十岁 一九四九年十月一日 第三十二册"},
    {"title": "重庆银行行长", "creator": "长春市长", "keywords": "音乐 乐曲 调查 调动"},
    {"title": "重要重复朝阳朝代", "creator": "单于单位", "notes": "还是归还 银行行走"},
    {"title": "Annual Reports of the Archives", "creator": "Records Office", "keywords": "boxes"},
    {
        "title": "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ１２３ 档案",
        "creator": "ＸＹＺ公司",
        "notes": "ﬁle ㈱ ①",
    },
    {"title": "ΣΟΦΟΣ İstanbul Straße cafe\u0301", "creator": "Müller", "notes": "ÅNGSTRÖM ǅ"},
    {"title": "2019年度KJ报告v2", "creator": "设计处", "reference_code": "J012-WS·2019-Y-BGS-0001"},
    {"title": "アーカイブ資料 기록물 㐀㐁 \uf900\uf901", "creator": "〇〇", "keywords": "🙂 档案"},
    {"title": "a" * 100 + " " + "9" * 200, "creator": "x" * 61, "notes": "中" * 300},
    {"title": "关于“档案法”的《实施办法》（试行）", "creator": "市人民政府办公室、市档案局"},
    {"title": "  空格\t制表\n换行  ", "keywords": "a,b;c|d", "notes": "line1\nline2\r\nline3"},
    {"title": "O'Brien's \\path\\ 'quoted' \"double\"", "creator": "D'Arcy", "notes": "it's"},
    {"title": "ＡＢ－１２ ab12 AB·12", "reference_code": "Q047-KJ-2003-D30-00012-001"},
    {"title": "的了和", "creator": "的", "keywords": "与及", "notes": "在是之"},
    {"title": "萬里長城 鄧小平 蘇州園林 龍", "creator": "臺北", "keywords": "裏面 裡面 着 著"},
    {"title": "1950-1995年 1990至1995年", "notes": "2024-01-02 3.14 1,000 50%"},
    {"title": "长长长长", "creator": "行行行", "keywords": "重重", "notes": "乐乐"},
]


def _demo_like(count: int) -> list[dict[str, Any]]:
    """Records as the demo seeds them (title, creator, code), with a few keywords and notes."""
    from repository.demo import FONDS, _draft

    rng = random.Random(20261207)
    today = dt.date(2026, 12, 7)
    docs = []
    for n in range(count):
        draft = _draft(rng, today)
        fonds = FONDS[draft.fonds_index]
        code = f"{fonds.code}-{draft.category}·{draft.year}-{draft.retention}-{n:04d}"
        doc = {"title": draft.title, "creator": draft.creator, "reference_code": code}
        if n % 3 == 0:
            doc["keywords"] = rng.choice(("防汛;抗旱", "档案 安全", "财务", "", "人事 任免"))
        if n % 5 == 0:
            doc["notes"] = f"{draft.title}。原件{draft.pages}页，{draft.year}年移交。"
        if n % 7 == 0:
            doc["title"] = f"{draft.title}（第{n % 9 + 1}件）"
        docs.append(doc)
    return docs


def _long_documents() -> list[dict[str, Any]]:
    paragraph = "關於二〇一九年重庆银行档案整理的报告，Records 第十二卷。"
    return [
        {
            "reference_code": "J001-WS·2019-Y-0001",
            "title": "长篇备考",
            "creator": "办公室",
            "notes": (paragraph * (NOTES_ANALYSED // len(paragraph) + 5))[: NOTES_ANALYSED + 77],
            "page_text": "",
        },
        {
            "reference_code": "J001-WS·2019-Y-0002",
            "title": "全文识别",
            "creator": "",
            "notes": "",
            "page_text": (paragraph + "\n") * (PAGES_ANALYSED // len(paragraph) + 5),
        },
    ]


def _complete(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name, "" if name != "creator" else None) for name in FIELDS} | {
        "reference_code": doc.get("reference_code") or "",
        "title": doc.get("title") or "",
    }


def _outputs(doc: dict[str, Any]) -> dict[str, Any]:
    return {"pg_lexemes": pg_lexemes(doc), "analysed": dataclasses.asdict(analysed(doc))}


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _record() -> None:
    docs = [_complete(d) for d in (*HANDMADE, *_demo_like(300))]
    lines = [json.dumps({"doc": doc, **_outputs(doc)}, ensure_ascii=False) for doc in docs]
    digests = json.dumps([_digest(_outputs(doc)) for doc in _long_documents()])
    documents = ",\n".join(lines)  # one document a line: a change shows as its lines
    GOLDEN.write_text(f'{{"documents": [\n{documents}\n],\n"long_documents": {digests}}}\n')


if os.environ.get("LANTAI_WRITE_GOLDEN"):
    _record()


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("repeat", [1, 2], ids=["cold", "warm"])
def test_documents_match_the_golden_outputs(repeat):
    """Twice: the second pass reads what the first left in any cache."""
    golden = _golden()
    assert len(golden["documents"]) > 300
    for _ in range(repeat):
        for entry in golden["documents"]:
            doc = entry["doc"]
            assert pg_lexemes(doc) == entry["pg_lexemes"], doc
            assert dataclasses.asdict(analysed(doc)) == entry["analysed"], doc


def test_long_fields_match_the_golden_digests():
    assert [_digest(_outputs(doc)) for doc in _long_documents()] == _golden()["long_documents"]


def test_results_handed_out_are_not_shared():
    """A caller changing what it got never changes what the next caller gets."""
    doc = _golden()["documents"][3]["doc"]
    first = analysed(doc)
    first.body.append("changed")
    first.pinyin.clear()
    readings = analysis.pinyin(doc["title"])
    readings.syllables.clear()
    tokens = analysis.analyze(doc["title"])
    tokens.bigrams.clear()
    assert analysed(doc) != first
    assert analysis.pinyin(doc["title"]).syllables
    assert analysis.analyze(doc["title"]).bigrams


# --- the fast paths against the plain ones, on any text -----------------------------------------
HAN_SAMPLE = "重庆银行行长长春市长会议纪要會議紀要乾隆頭髮后来二〇一九年第十二卷三号楼档案馆的了和"
texts = st.text(alphabet=st.sampled_from(HAN_SAMPLE + "ab Ｘ１2-·ﬁİΣς\u0301㈱①\uf900"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(texts | st.text(max_size=30))
def test_fast_paths_give_what_the_plain_ones_give(text):
    norm, _ = analysis.normalize_map(text)
    assert analysis.normalize(text) == norm
    tokens = analysis.analyze(text)
    found = analysis.terms(text)
    assert found.bigrams == tuple(t.term for t in tokens.bigrams)
    assert found.chars == tuple(t.term for t in tokens.chars)
    pairs = [(t.term, t.position) for t in (*tokens.bigrams, *tokens.chars)]
    assert tuple(zip(found.lexemes, found.offsets, strict=True)) == tuple(dict.fromkeys(pairs))
    for run in analysis._HAN_RE.findall(norm):
        assert list(analysis._lazy_pinyin(run)) == lazy_pinyin(
            run, style=Style.NORMAL, errors="ignore"
        )


def test_caches_are_bounded():
    for line in analysis.cache_report():
        assert "/None" not in line, line
    assert analysis.MAX_FOLDED <= 65_536


def test_postgres_rows_carry_the_same_keys_without_the_streams():
    for entry in _golden()["documents"][:60]:
        doc = entry["doc"] | {"pk": 1, "version": 1, "date_start": None, "date_end": None}
        full, lean = row_values(doc), row_values(doc, streams=False)
        assert lean["title_key"] == full["title_key"] == entry["analysed"]["title_key"]
        assert lean["code_key"] == full["code_key"] == entry["analysed"]["code_key"]
        assert model_values(lean) == model_values(full) | {"title_tokens": "", "body_tokens": ""}
