"""The printed forms archivists use every week (reportlab, Chinese font embedded).

Every text goes through ``core.output.pdf_text`` (Paragraph markup escaped). Each function
takes records (or boxes) already fetched through the record door (``visible_to``) and returns
PDF bytes; ``progress(done, total)`` is called as entries are laid out, so long runs (a whole
category) can report progress (the ``print_forms`` command shows it; 600 labels once took
9.7 s with no feedback).

Forms and their sources:

- ``stamp_labels``: 归档章 (DA/T 22-2015 §5.4 and 附录A: 全宗号, 年度, 保管期限, 件号 required,
  机构(问题) and 页数 optional) for items; 档号章 for items in volumes (全宗号, 目录号, 案卷号,
  件号 — GB/T 9705-2008 档号 elements), 3 × 8 per A4 sheet.
- ``item_list``: 归档文件目录 (DA/T 22-2015 §5.5: 件号, 责任者, 文号, 题名, 日期, 页数, 备注;
  A4; 日期 in 8 digits).
- ``volume_list``: 案卷目录 (GB/T 9705-2008: 案卷号, 案卷题名, 起止日期, 页数, 保管期限, 备注).
- ``volume_contents``: 卷内目录 (GB/T 9705-2008: 序号, 文号, 责任者, 题名, 日期, 页号, 备注).
- ``volume_note``: 卷内备考表 (GB/T 9705-2008: 本卷情况说明, 立卷人, 检查人, 立卷时间).
- ``volume_cover``: 案卷封面 (GB/T 9705-2008: 全宗名称, 类目名称, 案卷题名, 起止日期, 保管期限,
  密级, 档号 (全宗号, 目录号, 案卷号), 件数/页数).
- ``volume_spine``: 卷脊 (GB/T 9705-2008: 全宗号, 目录号, 年度, 案卷号, 保管期限; widths 20/30/
  40 mm).
- ``box_spine``: 盒脊 (DA/T 22-2015 §6.4.1.2: 全宗号, 年度, 保管期限, 起止件号, 盒号 required,
  机构(问题) optional; 起件号 upper cell, 止件号 lower cell).
- ``box_note``: 备考表 (DA/T 22-2015 §6.4.2: 盒内文件情况说明, 整理人, 整理日期, 检查人, 检查日期).
- ``full_index``: 全引目录 (a 案卷目录 with each volume's 卷内目录 under it).

The layouts follow the fields and order of those standards; sizes are A4 (297 × 210 mm) for
lists, covers and notes, the spine widths as named.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence

from django.utils.translation import pgettext, pgettext_lazy
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from accounts.choices import Classification
from core.fonts import pdf_font
from core.output import pdf_text
from repository import dates, retention
from repository.boxes import item_range
from repository.codes import code_errors, template_for

Progress = Callable[[int, int], None] | None
SPINE_WIDTHS_MM = (20, 30, 40, 50)


def _styles():
    font = pdf_font()
    return {
        "title": ParagraphStyle("t", fontName=font, fontSize=16, leading=22, alignment=1),
        "sub": ParagraphStyle("s", fontName=font, fontSize=10, leading=14, alignment=1),
        "cell": ParagraphStyle("c", fontName=font, fontSize=9, leading=11),
        "head": ParagraphStyle("h", fontName=font, fontSize=9, leading=11, alignment=1),
        "big": ParagraphStyle("b", fontName=font, fontSize=13, leading=20),
    }


def _p(text, style) -> Paragraph:
    return Paragraph(pdf_text(text), style)


def _grid() -> TableStyle:
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
        ]
    )


def _build(story: list, *, pagesize=A4) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Lantai",
    )
    doc.build(story)
    return out.getvalue()


def _tick(progress: Progress, done: int, total: int) -> None:
    if progress is not None and (done == total or done % 50 == 0):
        progress(done, total)


def _classification(record) -> str:
    if not record.classification:
        return ""
    text = str(Classification(record.classification).label)
    # 密级★保密期限: the SecrecyTerm's label (models.DescribedRecord.secrecy_period).
    return f"{text}★{record.secrecy_period}" if record.secrecy_period else text


def item_number(record) -> str:
    """件号: the record's sequence, else the last number segment of its reference code."""
    if getattr(record, "sequence", None):
        return str(record.sequence)
    tail = record.reference_code.rsplit("-", 1)[-1]
    return tail if tail.isdigit() else ""


def _title(record) -> str:
    return record.title


def _table(header: Sequence[str], rows: list[list], widths: Sequence[float]) -> Table:
    st = _styles()
    data = [[_p(h, st["head"]) for h in header]]
    data += [[_p(cell, st["cell"]) for cell in row] for row in rows]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(_grid())
    return table


# --- lists -----------------------------------------------------------------------------------


def _with_secrecy(items: Iterable) -> list:
    """The records with their SecrecyTerm in the same query (★保密期限 per row, no N+1)."""
    select = getattr(items, "select_related", None)
    return list(select("secrecy") if select else items)


def item_list(items: Iterable, *, heading: str = "", progress: Progress = None) -> bytes:
    """归档文件目录 (DA/T 22-2015 §5.5)."""
    items = _with_secrecy(items)
    st = _styles()
    rows = []
    for n, item in enumerate(items, start=1):
        rows.append(
            [
                item_number(item),
                item.reference_code,
                item.document_number,
                item.creator,
                _title(item),
                dates.record_format8(item),
                item.pages or "",
                _classification(item),
                item.notes,
            ]
        )
        _tick(progress, n, len(items))
    header = [
        pgettext("printed form", "Item no."),
        pgettext("printed form", "Reference code"),
        pgettext("printed form", "Document no."),
        pgettext("printed form", "Creator"),
        pgettext("printed form", "Title"),
        pgettext("printed form", "Date"),
        pgettext("printed form", "Pages"),
        pgettext("printed form", "Classification"),
        pgettext("printed form", "Remarks"),
    ]
    story = [
        _p(pgettext("printed form", "Catalogue of filed documents"), st["title"]),  # 归档文件目录
        _p(heading, st["sub"]),
        Spacer(1, 4 * mm),
        _table(header, rows, (14, 42, 30, 30, 70, 24, 12, 18, 27)),
    ]
    return _build(story, pagesize=landscape(A4))


def _volume_rows(volumes) -> list[list]:
    return [
        [
            volume.reference_code,
            _title(volume),
            dates.record_format8(volume),
            volume.pages or "",
            retention.label(volume.retention),
            volume.notes,
        ]
        for volume in volumes
    ]


VOLUME_HEADER = (
    pgettext_lazy("printed form", "Reference code"),
    pgettext_lazy("printed form", "File title"),
    pgettext_lazy("printed form", "Dates"),
    pgettext_lazy("printed form", "Pages"),
    pgettext_lazy("printed form", "Retention"),
    pgettext_lazy("printed form", "Remarks"),
)


def volume_list(volumes: Iterable, *, heading: str = "", progress: Progress = None) -> bytes:
    """案卷目录 (GB/T 9705-2008)."""
    volumes = list(volumes)
    st = _styles()
    rows = []
    for n, volume in enumerate(volumes, start=1):
        rows += _volume_rows([volume])
        _tick(progress, n, len(volumes))
    story = [
        _p(pgettext("printed form", "File list"), st["title"]),  # 案卷目录
        _p(heading, st["sub"]),
        Spacer(1, 4 * mm),
        _table([str(h) for h in VOLUME_HEADER], rows, (45, 95, 40, 14, 25, 48)),
    ]
    return _build(story, pagesize=landscape(A4))


def _contents_table(volume, items) -> Table:
    rows = []
    page = 1
    for n, item in enumerate(items, start=1):
        pages = item.pages or 0
        page_no = f"{page}" if pages <= 1 else f"{page}-{page + pages - 1}"
        page += max(pages, 1)
        rows.append(
            [
                n,
                item.document_number,
                item.creator,
                _title(item),
                dates.record_format8(item),
                page_no,
                item.notes,
            ]
        )
    header = [
        pgettext("printed form", "No."),
        pgettext("printed form", "Document no."),
        pgettext("printed form", "Creator"),
        pgettext("printed form", "Title"),
        pgettext("printed form", "Date"),
        pgettext("printed form", "Page no."),
        pgettext("printed form", "Remarks"),
    ]
    return _table(header, rows, (10, 28, 28, 60, 20, 16, 18))


def volume_contents(volume, items: Iterable) -> bytes:
    """卷内目录 (GB/T 9705-2008)."""
    st = _styles()
    story = [
        _p(pgettext("printed form", "List of contents"), st["title"]),  # 卷内目录
        _p(volume.reference_code, st["sub"]),
        Spacer(1, 4 * mm),
        _contents_table(volume, list(items)),
    ]
    return _build(story)


def full_index(
    volumes: Iterable, items_of, *, heading: str = "", progress: Progress = None
) -> bytes:
    """全引目录: each volume's entry followed by its 卷内目录. ``items_of(volume)`` lists the
    items the user may see."""
    volumes = list(volumes)
    st = _styles()
    story: list = [
        _p(pgettext("printed form", "Full index"), st["title"]),
        _p(heading, st["sub"]),
        Spacer(1, 4 * mm),
    ]
    for n, volume in enumerate(volumes, start=1):
        story.append(
            KeepTogether(
                [
                    _table(
                        [str(h) for h in VOLUME_HEADER],
                        _volume_rows([volume]),
                        (40, 60, 30, 12, 20, 18),
                    )
                ]
            )
        )
        story.append(Spacer(1, 2 * mm))
        story.append(_contents_table(volume, list(items_of(volume))))
        story.append(Spacer(1, 6 * mm))
        _tick(progress, n, len(volumes))
    return _build(story)


# --- covers, notes and spines ----------------------------------------------------------------


def _code_parts(record) -> dict[str, str]:
    """The 档号 segments of a record's code (by its fonds' pattern), best effort."""
    kind = "volume" if not hasattr(record, "volume_id") else "item"
    template = template_for(record.fonds, kind, in_volume=bool(getattr(record, "volume_id", None)))
    parsed, _errors = code_errors(record.reference_code, template)
    return parsed


def volume_cover(volume, *, item_count: int | None = None) -> bytes:
    """案卷封面 (GB/T 9705-2008)."""
    st = _styles()
    parts = _code_parts(volume)
    fonds = volume.fonds
    rows = [
        [pgettext("printed form", "Fonds name"), fonds.creating_body or fonds.name],
        [pgettext("printed form", "Class"), f"{volume.category.code} {volume.category.name}"],
        [pgettext("printed form", "File title"), _title(volume)],
        [pgettext("printed form", "Dates"), dates.record_format8(volume)],
        [pgettext("printed form", "Retention"), retention.label(volume.retention)],
        [
            pgettext("printed form", "Classification"),
            _classification(volume) or pgettext("printed form", "none"),
        ],
        [
            pgettext("printed form", "Items / pages"),
            f"{item_count if item_count is not None else ''} / {volume.pages or ''}",
        ],
        [pgettext("printed form", "Fonds no."), fonds.code],
        [
            pgettext("printed form", "Catalogue no."),
            volume.catalogue_number or parts.get("catalogue", ""),
        ],
        [pgettext("printed form", "File no."), parts.get("volume", "")],
        [pgettext("printed form", "Reference code"), volume.reference_code],
    ]
    table = Table(
        [[_p(a, st["big"]), _p(b, st["big"])] for a, b in rows], colWidths=[45 * mm, 120 * mm]
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [
        Spacer(1, 20 * mm),
        _p(pgettext("printed form", "File cover"), st["title"]),
        Spacer(1, 15 * mm),
        table,
    ]
    return _build(story)


def _note(title: str, rows: list[tuple[str, str]], explanation: str) -> bytes:
    st = _styles()
    data = [[_p(pgettext("printed form", "Notes"), st["big"])], [_p(explanation, st["cell"])]]
    data += [[_p(f"{a}：{b}", st["big"])] for a, b in rows]
    table = Table(
        data, colWidths=[170 * mm], rowHeights=[12 * mm, 120 * mm] + [12 * mm] * len(rows)
    )
    table.setStyle(
        TableStyle(
            [("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("VALIGN", (0, 1), (0, 1), "TOP")]
        )
    )
    story = [_p(title, st["title"]), Spacer(1, 8 * mm), table]
    return _build(story)


def volume_note(volume, *, compiled_by: str = "", checked_by: str = "", date: str = "") -> bytes:
    """卷内备考表 (GB/T 9705-2008)."""
    return _note(
        pgettext("printed form", "File note sheet") + f"  {volume.reference_code}",
        [
            (pgettext("printed form", "Compiled by"), compiled_by),
            (pgettext("printed form", "Checked by"), checked_by),
            (pgettext("printed form", "Date"), date),
        ],
        volume.notes,
    )


def box_note(box) -> bytes:
    """备考表 of a box (DA/T 22-2015 §6.4.2)."""
    return _note(
        pgettext("printed form", "Box note sheet") + f"  {box.code}",
        [
            (pgettext("printed form", "Arranged by"), box.arranged_by),
            (
                pgettext("printed form", "Arranged on"),
                box.arranged_on.strftime("%Y%m%d") if box.arranged_on else "",
            ),
            (pgettext("printed form", "Checked by"), box.checked_by),
            (
                pgettext("printed form", "Checked on"),
                box.checked_on.strftime("%Y%m%d") if box.checked_on else "",
            ),
        ],
        box.contents_note,
    )


def _spine_page(pdf: canvas.Canvas, width_mm: int, cells: list[tuple[str, str]], height_mm=300):
    """One spine strip: label/value cells stacked, text centred (vertical CJK by line)."""
    font = pdf_font()
    width = width_mm * mm
    pdf.setPageSize((width + 10 * mm, height_mm * mm + 10 * mm))
    x0, y = 5 * mm, height_mm * mm + 5 * mm
    pdf.setLineWidth(0.6)
    pdf.rect(x0, 5 * mm, width, height_mm * mm)
    # The last cell (a title, when there is one) takes the room the short values leave.
    short_h = min(30 * mm, height_mm * mm / max(len(cells), 1))
    for index, (label, value) in enumerate(cells):
        last = index == len(cells) - 1
        cell_h = (y - 5 * mm) if last else short_h
        y -= cell_h
        pdf.line(x0, y, x0 + width, y)
        pdf.setFont(font, 7)
        pdf.drawCentredString(x0 + width / 2, y + cell_h - 9, label)
        size = 10 if width_mm >= 30 else 8
        pdf.setFont(font, size)
        # Long values (a title) run down the strip one character per line.
        text = str(value or "")
        fits = pdfmetrics.stringWidth(text, font, size) <= width - 4
        lines = [text] if fits else list(text)[: int((cell_h - 14) // (size + 2))]
        ty = y + cell_h - 14 - size
        for line in lines:
            pdf.drawCentredString(x0 + width / 2, ty, line)
            ty -= size + 2
    pdf.showPage()


def _nothing(pdf: canvas.Canvas, entries: list) -> None:
    """A PDF always has a page: an empty selection prints a note saying so."""
    if entries:
        return
    pdf.setPageSize(A4)
    pdf.setFont(pdf_font(), 10)
    pdf.drawString(20 * mm, A4[1] - 20 * mm, pgettext("printed form", "Nothing to print."))
    pdf.showPage()


def volume_spine(volumes: Iterable, *, width_mm: int = 30, progress: Progress = None) -> bytes:
    """卷脊 (GB/T 9705-2008), one strip per page."""
    volumes = list(volumes)
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for n, volume in enumerate(volumes, start=1):
        parts = _code_parts(volume)
        cells = [
            (pgettext("printed form", "Fonds no."), volume.fonds.code),
            (
                pgettext("printed form", "Catalogue no."),
                volume.catalogue_number or parts.get("catalogue", ""),
            ),
            (pgettext("printed form", "Year"), str(volume.filing_year or "")),
            (pgettext("printed form", "File no."), parts.get("volume", "")),
            (pgettext("printed form", "Retention"), retention.label(volume.retention)),
            (pgettext("printed form", "Title"), volume.title),
        ]
        _spine_page(pdf, width_mm, cells, height_mm=280)
        _tick(progress, n, len(volumes))
    _nothing(pdf, volumes)
    pdf.save()
    return out.getvalue()


def box_spine(boxes: Iterable, *, width_mm: int = 40, progress: Progress = None) -> bytes:
    """盒脊 (DA/T 22-2015 §6.4.1.2 and 附录D), one strip per page (盒脊 220 mm high)."""
    boxes = list(boxes)
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for n, box in enumerate(boxes, start=1):
        first, last = item_range(box)
        cells = [
            (pgettext("printed form", "Fonds no."), box.fonds.code),
            (pgettext("printed form", "Year"), str(box.year or "")),
            (
                pgettext("printed form", "Retention"),
                retention.label(box.retention) if box.retention else "",
            ),
            (pgettext("printed form", "Organisational unit"), box.org_unit),
            (pgettext("printed form", "First item no."), first),
            (pgettext("printed form", "Last item no."), last),
            (pgettext("printed form", "Box no."), str(box.number or "")),
        ]
        _spine_page(pdf, width_mm, cells, height_mm=220)
        _tick(progress, n, len(boxes))
    _nothing(pdf, boxes)
    pdf.save()
    return out.getvalue()


# --- stamps ----------------------------------------------------------------------------------


def stamp_labels(items: Iterable, *, progress: Progress = None) -> bytes:
    """归档章 (items filed by 件) or 档号章 (items in volumes), 3 × 8 per A4 sheet: a 2 × 3 grid
    each (DA/T 22-2015 附录A: 全宗号 | 年度 | 件号 over 机构(问题) | 保管期限 | 页数)."""
    items = list(items)
    font = pdf_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    page_w, page_h = A4
    cols, rows_per_page = 3, 8
    cell_w, cell_h = 15 * mm, 8 * mm
    stamp_w, stamp_h = 3 * cell_w, 2 * cell_h
    gap_x = (page_w - cols * stamp_w) / (cols + 1)
    gap_y = (page_h - rows_per_page * stamp_h) / (rows_per_page + 1)
    for n, item in enumerate(items):
        slot = n % (cols * rows_per_page)
        if n and slot == 0:
            pdf.showPage()
        col, row = slot % cols, slot // cols
        x = gap_x + col * (stamp_w + gap_x)
        y = page_h - (gap_y + row * (stamp_h + gap_y)) - stamp_h
        parts = _code_parts(item)
        if item.volume_id:  # 档号章
            top = [item.fonds.code, parts.get("catalogue", "") or item.catalogue_number, ""]
            top[2] = _code_parts(item.volume).get("volume", "")
            bottom = ["", "", item_number(item)]
            labels_top = [
                pgettext("printed form", "Fonds no."),
                pgettext("printed form", "Catalogue no."),
                pgettext("printed form", "File no."),
            ]
            labels_bottom = ["", "", pgettext("printed form", "Item no.")]
        else:  # 归档章
            top = [item.fonds.code, str(item.filing_year or ""), item_number(item)]
            bottom = [item.org_unit, retention.label(item.retention), str(item.pages or "")]
            labels_top = [
                pgettext("printed form", "Fonds no."),
                pgettext("printed form", "Year"),
                pgettext("printed form", "Item no."),
            ]
            labels_bottom = [
                pgettext("printed form", "Organisational unit"),
                pgettext("printed form", "Retention"),
                pgettext("printed form", "Pages"),
            ]
        pdf.setLineWidth(0.8)
        pdf.setStrokeColor(colors.red)
        pdf.setFillColor(colors.red)
        pdf.rect(x, y, stamp_w, stamp_h)
        pdf.line(x, y + cell_h, x + stamp_w, y + cell_h)
        for c in (1, 2):
            pdf.line(x + c * cell_w, y, x + c * cell_w, y + stamp_h)
        for r, (values, labels) in enumerate(((top, labels_top), (bottom, labels_bottom))):
            cy = y + stamp_h - (r + 1) * cell_h
            for c, (value, label) in enumerate(zip(values, labels, strict=True)):
                cx = x + c * cell_w + cell_w / 2
                pdf.setFont(font, 4.5)
                if label:
                    pdf.drawCentredString(cx, cy + cell_h - 5, label)
                pdf.setFont(font, 7)
                text = str(value or "")
                while text and pdfmetrics.stringWidth(text, font, 7) > cell_w - 2:
                    text = text[:-1]
                pdf.drawCentredString(cx, cy + 2, text)
        _tick(progress, n + 1, len(items))
    _nothing(pdf, items)
    pdf.save()
    return out.getvalue()


FORMS = {
    "stamps": stamp_labels,
    "item_list": item_list,
    "volume_list": volume_list,
    "full_index": full_index,
    "volume_spine": volume_spine,
    "box_spine": box_spine,
}
__all__ = [*FORMS, "volume_contents", "volume_note", "volume_cover", "box_note", "PageBreak"]
