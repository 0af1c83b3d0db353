"""``core.output``: the escaping functions on their own, with hypothesis fuzzing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from PIL import Image
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table
from reportlab.platypus.paraparser import ParaParser

from core.output import (
    FORMULA_START,
    PLAIN_NUMBER,
    pdf_text,
    spreadsheet_cell,
    spreadsheet_value,
    xlsx_cell,
)

STYLE = ParagraphStyle("body", fontName="Helvetica", fontSize=8, leading=10)
# Text of any kind, lone surrogates included (they can reach a value through JSON escapes).
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=60)
MARKUPISH = st.text(st.sampled_from(list("<>&;#/=\"' abimgfontsrchref:") + ["\x07", "\n"]))
TRIGGER_TEXT = st.builds(lambda a, b: a + b, st.sampled_from(FORMULA_START), st.text(max_size=20))
HOSTILE = [
    '<img src="/etc/passwd"/>',
    '<a href="http://evil.example/">x</a>',
    "<font color=red>",
    "&nbsp;&lt;&#60;",
    "<b>unclosed",
    "]]><![CDATA[x]]>",
]


def _live(value) -> bool:
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not PLAIN_NUMBER.fullmatch(value)
    )


# --- pdf_text --------------------------------------------------------------------------------


def _parsed(text: str):
    """The fragments reportlab's paragraph parser makes of ``text``."""
    return ParaParser().parse(text, STYLE)[1]


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_TEXT, MARKUPISH))
@example(HOSTILE[0])
@example("&amp;")
def test_pdf_text_parses_back_to_exactly_the_value(value):
    frags = _parsed(pdf_text(value))
    assert "".join(f.text for f in frags) == value
    for frag in frags:  # no image, link, style or other markup came through
        assert not getattr(frag, "cbDefn", None)
        assert not getattr(frag, "link", None)
        assert not getattr(frag, "lineBreak", False)
        assert frag.fontName == STYLE.fontName and frag.textColor == STYLE.textColor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), MARKUPISH))
def test_pdf_text_never_fails_a_document(value):
    """Whatever the text, the document builds (raw markup would raise for ``<b>unclosed``)."""
    out = io.BytesIO()
    SimpleDocTemplate(out).build([Paragraph(pdf_text(value), STYLE), Table([[value]])])
    assert b"/Subtype /Image" not in out.getvalue()


@pytest.mark.parametrize("value", HOSTILE)
def test_pdf_text_hostile_markup(value):
    assert "".join(f.text for f in _parsed(pdf_text(value))) == value


def test_raw_markup_is_what_pdf_text_prevents(tmp_path):
    with pytest.raises(ValueError):
        _parsed("<b>unclosed")  # raw, an unbalanced tag fails the whole document
    png = tmp_path / "server.png"
    Image.new("RGB", (4, 4)).save(png)
    (image,) = _parsed(f'<img src="{png}"/>')  # raw, it embeds a file from the server
    assert image.cbDefn.kind == "img"
    assert "".join(f.text for f in _parsed(pdf_text(f'<img src="{png}"/>'))) == (
        f'<img src="{png}"/>'
    )


def test_pdf_text_of_non_text():
    assert pdf_text(None) == ""
    assert pdf_text(3.5) == "3.5"
    assert pdf_text(dt.date(2026, 1, 2)) == "2026-01-02"
    assert pdf_text("a & b <c>") == "a &amp; b &lt;c&gt;"


# --- spreadsheet_cell ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), TRIGGER_TEXT))
@example('=HYPERLINK("http://evil")')
@example("-3.5")
def test_spreadsheet_cell_never_leaves_a_formula(value):
    cell = spreadsheet_cell(value)
    assert not _live(cell)
    assert cell in (value, "'" + value)  # nothing but one apostrophe is ever added
    if _live(value):
        assert cell == "'" + value
    else:
        assert cell == value
    # …and through a CSV writer and reader the cell is the same.
    out = io.StringIO()
    csv.writer(out).writerow([cell])
    assert next(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [cell]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1+2", "'-1+2"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("-3.5", "-3.5"),  # a plain negative number stays a number
        ("-12", "-12"),
        ("K01", "K01"),
        ("", ""),
        ("题名=1", "题名=1"),
    ],
)
def test_spreadsheet_cell_examples(value, cell):
    assert spreadsheet_cell(value) == cell


@pytest.mark.parametrize("value", [None, 3, -3.5, Decimal("-1"), dt.date(2026, 1, 1), True])
def test_spreadsheet_cell_leaves_non_text_alone(value):
    assert spreadsheet_cell(value) is value


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), TRIGGER_TEXT))
def test_spreadsheet_value_undoes_spreadsheet_cell(value):
    if value.startswith("'") and _live(value[1:]):
        return  # "'=1" written by hand reads back as "=1": the one value that does not return
    assert spreadsheet_value(spreadsheet_cell(value)) == value


# --- xlsx_cell -------------------------------------------------------------------------------


def _round_trip(values: list) -> list:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("t")
    sheet.append([xlsx_cell(v) for v in values])
    out = io.BytesIO()
    book.save(out)
    cells = list(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())[0]
    assert not [c for c in cells if c.data_type == "f"]
    return [c.value for c in cells]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ANY_TEXT, TRIGGER_TEXT), min_size=1, max_size=4))
@example(["bell\x07here", "\x00", "\ud800", "\uffff\ufffe", "=1+1"])
def test_xlsx_cell_always_writes_a_readable_workbook_without_formulas(values):
    read = _round_trip(values)
    for value, got in zip(values, read, strict=True):
        want = xlsx_cell(value)
        # XML turns a carriage return into a line feed; an empty string is an empty cell.
        assert (got or "") == want.replace("\r\n", "\n").replace("\r", "\n")
        assert not _live(got)


def test_xlsx_cell_examples():
    assert xlsx_cell("bell\x07here") == "bell\ufffdhere"
    assert xlsx_cell("=1\x00") == "'=1\ufffd"
    assert xlsx_cell("\ud800x\uffff") == "\ufffdx\ufffd"
    assert xlsx_cell("line\nnext\ttab") == "line\nnext\ttab"
    assert xlsx_cell(None) is None and xlsx_cell(7) == 7
    long = xlsx_cell("长" * 40000)
    assert len(long) == 32767 and long.endswith("…")
