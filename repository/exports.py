"""Catalogue columns shared by export and import, and the CSV / XLSX writers.

Exports always start from a ``visible_to(user)`` queryset (``repository.listing``); they stream
in chunks so a large export keeps memory flat.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from accounts.choices import Classification
from core.output import spreadsheet_cell, xlsx_cell
from repository.choices import AccessStatus, Carrier, Retention
from repository.validation import format_partial_date

# (column key, header label). Headers are written in the active language; import accepts the
# key, the English label or the Chinese label (see repository.imports).
COLUMNS: list[tuple[str, object]] = [
    ("reference_code", gettext_lazy("reference code")),
    ("title", gettext_lazy("title")),
    ("creator", gettext_lazy("creator")),
    ("date", gettext_lazy("date")),
    ("pages", gettext_lazy("pages")),
    ("retention", gettext_lazy("retention")),
    ("classification", gettext_lazy("classification")),
    ("access_status", gettext_lazy("access status")),
    ("carrier", gettext_lazy("carrier type")),
    ("keywords", gettext_lazy("keywords")),
    ("notes", gettext_lazy("notes")),
    ("filing_year", gettext_lazy("filing year")),
    ("org_unit", gettext_lazy("organisational unit")),
    ("fonds", gettext_lazy("fonds number")),
    ("category", gettext_lazy("category code")),
    ("volume", gettext_lazy("volume reference code")),
    ("position", gettext_lazy("position code")),
]
CHOICES = {
    "retention": Retention,
    "classification": Classification,
    "access_status": AccessStatus,
    "carrier": Carrier,
}
EXPORT_CHUNK = 2000
XLSX_MAX_ROWS = 1_000_000


# Columns the public (anonymous and researchers) export leaves out: shelf positions are internal
# (where a record lies in the store is not catalogue information for readers).
INTERNAL_COLUMNS = frozenset({"position"})


def _kept(public: bool) -> list[int]:
    return [
        i for i, (key, _label) in enumerate(COLUMNS) if not public or key not in INTERNAL_COLUMNS
    ]


def headers(*, public: bool = False) -> list[str]:
    return [str(COLUMNS[i][1]) for i in _kept(public)]


def export_queryset(qs):
    return qs.select_related("fonds", "category", "position").order_by("reference_code")


def row_for(record) -> list:
    labels = {name: dict(choices.choices) for name, choices in CHOICES.items()}
    volume = getattr(record, "volume", None) if getattr(record, "volume_id", None) else None
    return [
        record.reference_code,
        record.title,
        record.creator,
        format_partial_date(record.date_start, record.date_end, record.date_precision),
        record.pages if record.pages is not None else "",
        str(labels["retention"].get(record.retention, record.retention)),
        str(labels["classification"].get(record.classification, record.classification)),
        str(labels["access_status"].get(record.access_status, record.access_status)),
        str(labels["carrier"].get(record.carrier, record.carrier)),
        record.keywords,
        record.notes,
        record.filing_year or "",
        record.org_unit,
        record.fonds.code,
        record.category.code,
        volume.reference_code if volume is not None else "",
        record.position.code if record.position_id else "",
    ]


def iter_rows(qs, *, public: bool = False) -> Iterator[list]:
    qs = export_queryset(qs)
    if qs.model.__name__ == "Item":
        qs = qs.select_related("volume")
    kept = _kept(public)
    for record in qs.iterator(chunk_size=EXPORT_CHUNK):
        row = row_for(record)
        yield [row[i] for i in kept] if public else row


class _Echo:
    def write(self, value):
        return value


def csv_stream(qs, *, public: bool = False) -> Iterator[str]:
    """UTF-8 with BOM (Excel opens it as UTF-8), one line at a time; no cell is a formula."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers(public=public))
    for row in iter_rows(qs, public=public):
        yield writer.writerow([spreadsheet_cell(cell) for cell in row])


def xlsx_bytes(rows: Iterable[list], header: list[str], *, title: str = "catalogue") -> bytes:
    """A one-sheet workbook; every cell through ``core.output.xlsx_cell`` (no formula, no
    character the file cannot hold)."""

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append([xlsx_cell(cell) for cell in header])
    for count, row in enumerate(rows):
        if count >= XLSX_MAX_ROWS:
            sheet.append([_("… the export stops here (Excel row limit).")])
            break
        sheet.append([xlsx_cell(cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_export(qs, *, public: bool = False) -> bytes:
    return xlsx_bytes(
        iter_rows(qs, public=public), headers(public=public), title=str(_("catalogue"))
    )
