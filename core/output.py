"""Values written into generated files, made safe for the context they land in.

Every PDF, CSV and XLSX the project writes passes record fields, room names, device messages and
imported cells through one of these functions:

- ``pdf_text`` for text handed to a reportlab ``Paragraph``: its mini-markup (``<img src=…>``
  embeds a file from the server, ``<a href=…>`` makes a link, ``<font>``/``<b>`` restyle text,
  ``&name;`` entities) must print as written, and unbalanced markup must not fail the document.
  Text drawn with ``canvas.drawString`` or given as a plain string to a ``Table`` cell is not
  parsed and needs nothing.
- ``spreadsheet_cell`` for CSV cells (OWASP "CSV injection"): a text that Excel or LibreOffice
  would read as a formula gets a leading apostrophe.
- ``xlsx_cell`` for XLSX cells: ``spreadsheet_cell`` plus the characters an XLSX file (XML 1.0)
  cannot hold replaced with U+FFFD, so one control character in a title never fails an export.

``spreadsheet_value`` undoes ``spreadsheet_cell`` for imports, so that the rejected-rows file (or
an export) read back in gives the values that were written out.
"""

from __future__ import annotations

import re

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# "-3.5" is a number to a spreadsheet, not a formula: it keeps its sign without an apostrophe.
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# openpyxl refuses the C0 controls (IllegalCharacterError); it writes lone surrogates, U+FFFE and
# U+FFFF but the file is then unreadable (XML 1.0 has no such characters).
XLSX_ILLEGAL = re.compile(ILLEGAL_CHARACTERS_RE.pattern + "|[\ud800-\udfff\ufffe\uffff]")
XLSX_MAX_CELL = 32767  # Excel's limit on the characters in one cell
REPLACEMENT = "\ufffd"


def pdf_text(value) -> str:
    """``value`` as text for a reportlab ``Paragraph``: ``&``, ``<`` and ``>`` escaped, which
    is all its parser interprets in text (tags and entities). ``None`` is empty. Line breaks
    stay whitespace (the values printed are one-line: titles, names, messages)."""
    if value is None:
        return ""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def spreadsheet_cell(value):
    """A CSV cell that no spreadsheet runs as a formula: a string starting with = + - @, a tab
    or a carriage return gets a leading apostrophe (a plain negative number such as "-3.5"
    stays a number). Anything that is not a string is returned unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def xlsx_cell(value):
    """An XLSX cell: ``spreadsheet_cell``, then every character the file cannot hold replaced
    with U+FFFD and the text cut to Excel's 32,767 characters. Non-strings are unchanged."""
    value = spreadsheet_cell(value)
    if not isinstance(value, str):
        return value
    value = XLSX_ILLEGAL.sub(REPLACEMENT, value)
    if len(value) > XLSX_MAX_CELL:
        value = value[: XLSX_MAX_CELL - 1] + "…"
    return value


def spreadsheet_value(text: str) -> str:
    """A cell read from a CSV or XLSX file with the apostrophe ``spreadsheet_cell`` added taken
    off again ("'=1" → "=1"); every other text is unchanged."""
    if (
        text[:1] == "'"
        and text[1:].startswith(FORMULA_START)
        and not PLAIN_NUMBER.fullmatch(text[1:])
    ):
        return text[1:]
    return text
