"""Catalogue columns shared by export and import, and the CSV / XLSX writers.

Exports always start from a ``visible_to(user)`` queryset (``repository.listing``); they stream
in chunks so a large export keeps memory flat.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook

from accounts.choices import Classification
from core.output import spreadsheet_cell, xlsx_cell
from repository import dates
from repository import retention as retention_codes
from repository.choices import AccessStatus, Carrier, Retention

# (column key, header label). Headers are written in the active language; import accepts the
# key, the English label or the Chinese label (see repository.imports).
COLUMNS: list[tuple[str, object]] = [
    ("reference_code", gettext_lazy("reference code")),
    ("title", gettext_lazy("title")),
    ("creator", gettext_lazy("creator")),
    ("document_number", gettext_lazy("document number")),
    ("date", gettext_lazy("date")),
    ("pages", gettext_lazy("pages")),
    ("retention", gettext_lazy("retention")),
    ("classification", gettext_lazy("classification")),
    ("secrecy_period", gettext_lazy("secrecy period")),
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
    return qs.select_related("fonds", "category", "position", "secrecy").order_by("reference_code")


def row_for(record) -> list:
    labels = {name: dict(choices.choices) for name, choices in CHOICES.items()}
    return [
        record.reference_code,
        record.title,
        record.creator,
        record.document_number,
        # The standards' 8 digits (DA/T 22-2015 §5.5): 20190601, 19490000, [19450815].
        dates.record_format8(record),
        record.pages if record.pages is not None else "",
        # Standard periods by label (永久, 30年); D+N and legacy codes as stored (D5, 长期), so
        # an export re-imports unchanged.
        retention_codes.label(record.retention)
        if record.retention in Retention.values
        else record.retention,
        str(labels["classification"].get(record.classification, record.classification)),
        record.secrecy_period,
        str(labels["access_status"].get(record.access_status, record.access_status)),
        str(labels["carrier"].get(record.carrier, record.carrier)),
        record.keywords,
        record.notes,
        record.filing_year or "",
        record.org_unit,
        record.fonds.code,
        record.category.code,
        # Only through the volume's door (``listing.visible_records`` annotates it), never
        # ``record.volume``: an open item can sit in a classified volume.
        getattr(record, "volume_code", None) or "",
        record.position.code if record.position_id else "",
    ]


def iter_rows(qs, *, public: bool = False) -> Iterator[list]:
    qs = export_queryset(qs)
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
    out = io.BytesIO()
    xlsx_write(out, rows, header, title=title)
    return out.getvalue()


def xlsx_write(out: IO[bytes], rows: Iterable[list], header: list[str], *, title: str) -> None:
    """A one-sheet workbook into ``out``; every cell through ``core.output.xlsx_cell`` (no
    formula, no character the file cannot hold). Write-only: rows go to a temporary file as
    they come, so memory stays flat however many there are."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append([xlsx_cell(cell) for cell in header])
    for count, row in enumerate(rows):
        if count >= XLSX_MAX_ROWS:
            sheet.append([_("… the export stops here (Excel row limit).")])
            break
        sheet.append([xlsx_cell(cell) for cell in row])
    book.save(out)


def xlsx_export(qs, *, public: bool = False) -> IO[bytes]:
    """The catalogue workbook in a temporary file (on disk, not in memory), at its start."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response that sends it
    xlsx_write(out, iter_rows(qs, public=public), headers(public=public), title=str(_("catalogue")))
    out.seek(0)
    return out
