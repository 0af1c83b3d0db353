"""PDFs: the borrowing slip (借阅单), the return receipt, the retrieval list (取档单) and the
use register (利用登记簿).

reportlab with a Chinese font from ``config.fonts.pdf_font`` (embedded when installed) and
Code 128 barcodes carrying the request number and each record's code.
"""

from __future__ import annotations

import io
from functools import cache

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from borrowing.choices import LineDecision, UseMethod
from borrowing.models import AccessSettings
from borrowing.services import due_date_for, record_code
from core.fonts import pdf_font
from core.output import pdf_text


@cache
def _styles() -> dict[str, ParagraphStyle]:
    font = pdf_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=6),
        "body": ParagraphStyle("body", fontName=font, fontSize=10, leading=14),
        "small": ParagraphStyle("small", fontName=font, fontSize=8, leading=10),
    }


def _p(text, style="body") -> Paragraph:
    """A paragraph that prints ``text`` as written (its markup escaped)."""
    return Paragraph(pdf_text(text), _styles()[style])


def _barcode(value: str, height: float = 10 * mm, align: str = "CENTER") -> Table:
    """Code 128 bars with the value printed under them. reportlab's own human-readable line is
    drawn below the flowable's box (it overlapped table borders), so the text is a row here."""
    bars = Code128(value, barHeight=height, barWidth=0.9, humanReadable=False)
    style = ParagraphStyle("code", fontName="Courier", fontSize=8, leading=9, alignment=1)
    box = Table([[bars], [Paragraph(pdf_text(value), style)]], colWidths=[bars.width], hAlign=align)
    box.setStyle(
        TableStyle(
            [
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return box


def _table(rows, widths) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]
        )
    )
    return table


def _build(story, title: str, pagesize=A4) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="Lantai",
    )
    doc.build(story)
    return buffer.getvalue()


def _header(req, heading: str) -> list:
    local = timezone.localtime
    return [
        _p(heading, "title"),
        _barcode(req.number, 12 * mm, align="LEFT"),
        Spacer(1, 4 * mm),
        _table(
            [
                [_p(_("Request")), _p(req.number), _p(_("Purpose of use")), _p(req.purpose_label)],
                [
                    _p(_("Requester")),
                    _p(req.requester),
                    _p(_("User type")),
                    _p(req.get_user_type_display()),
                ],
                [
                    _p(_("Identity document")),
                    _p(f"{req.get_id_document_type_display()} {req.masked_id_number}".strip()),
                    _p(_("Period")),
                    _p(f"{req.date_from} – {req.date_to}"),
                ],
                [
                    _p(_("State")),
                    _p(req.get_state_display()),
                    _p(_("Printed")),
                    _p(f"{local():%Y-%m-%d %H:%M}"),
                ],
            ],
            [30 * mm, 60 * mm, 30 * mm, 60 * mm],
        ),
        Spacer(1, 6 * mm),
    ]


def borrowing_slip(req) -> bytes:
    """借阅单 (调档单): the archive's name, the request, each approved record with its method,
    barcode and due date, the conditions entered at check-out, and signature lines. Printed
    only once the request is approved (the page refuses before)."""
    settings = AccessSettings.current()
    story = [_p(settings.archive_name, "title"), *_header(req, _("Borrowing slip"))]
    loans = {loan.line_id: loan for loan in req.loans.all()}
    rows = [
        [
            _p(_("Code")),
            _p(_("Reference code")),
            _p(_("Title")),
            _p(_("Method of use")),
            _p(_("Due")),
        ]
    ]
    conditions = []
    for line in req.lines.select_related("item", "volume").filter(decision=LineDecision.APPROVED):
        record = line.record
        loan = loans.get(line.pk)
        if loan is not None:
            due = f"{loan.due_date}"
            if line.method != UseMethod.LENDING:
                due += f" {settings.reading_room_closes:%H:%M}"
            if loan.conditions:
                conditions.append(f"{record.reference_code}: {loan.conditions}")
        elif line.handles_original:
            due = str(due_date_for(line.method, today=timezone.localdate(), settings=settings))
        else:
            due = "—"
        method = line.get_method_display()
        if line.method == UseMethod.COPYING:
            method += f" ×{line.copy_pages}"
        rows.append(
            [
                _barcode(record_code(record), 8 * mm),
                _p(record.reference_code, "small"),
                _p(record.title, "small"),
                _p(method, "small"),
                _p(due, "small"),
            ]
        )
    story.append(_table(rows, [40 * mm, 40 * mm, 50 * mm, 25 * mm, 25 * mm]))
    if conditions:
        story += [Spacer(1, 4 * mm), _p(_("Conditions") + ": " + "; ".join(conditions))]
    story += [Spacer(1, 12 * mm), _p(_("Reader's signature: ____________    Staff: ____________"))]
    return _build(story, req.number)


def certificate(line) -> bytes:
    """档案证明: the archive's name, the certificate number, the record it is drawn from, the
    content as written by the desk, the date, and the place for the seal (盖章处); the seal
    itself is applied on paper."""
    settings = AccessSettings.current()
    req = line.request
    record = line.record
    issued = timezone.localtime(line.served_at) if line.served_at else timezone.localtime()
    story = [
        _p(settings.archive_name, "title"),
        _p(_("Archival certificate"), "title"),
        _p(_("No. %(number)s") % {"number": line.certificate_number}),
        Spacer(1, 6 * mm),
        _table(
            [
                [_p(_("Request")), _p(req.number)],
                [_p(_("Applicant")), _p(req.requester)],
                [_p(_("Purpose of use")), _p(req.purpose_label)],
                [_p(_("Reference code")), _p(record.reference_code)],
                [_p(_("Title")), _p(record.title)],
            ],
            [40 * mm, 140 * mm],
        ),
        Spacer(1, 6 * mm),
        _p(line.certificate_content or line.get_method_display()),
        Spacer(1, 16 * mm),
        _table(
            [[_p(_("(seal)")), _p(f"{settings.archive_name}  {issued:%Y-%m-%d}")]],
            [90 * mm, 90 * mm],
        ),
    ]
    return _build(story, line.certificate_number or req.number)


def return_receipt(req) -> bytes:
    """归还回执: every loan of the request and when it came back."""
    story = _header(req, _("Return receipt"))
    rows = [[_p(_("Code")), _p(_("Reference code")), _p(_("Checked out")), _p(_("Returned"))]]
    for loan in req.loans.select_related("item", "volume"):
        returned = (
            timezone.localtime(loan.returned_at).strftime("%Y-%m-%d %H:%M")
            if loan.returned_at
            else _("not yet")
        )
        rows.append(
            [
                _barcode(record_code(loan.record), 8 * mm),
                _p(loan.record.reference_code, "small"),
                _p(f"{timezone.localtime(loan.checked_out_at):%Y-%m-%d %H:%M}", "small"),
                _p(returned, "small"),
            ]
        )
    story.append(_table(rows, [45 * mm, 55 * mm, 40 * mm, 40 * mm]))
    return _build(story, req.number)


def retrieval_list(groups) -> bytes:
    """取档单: approved records grouped by room, in shelf order."""
    story = [
        _p(_("Retrieval list"), "title"),
        _p(f"{timezone.localtime():%Y-%m-%d %H:%M}", "small"),
    ]
    for room, entries in groups.items():
        story += [Spacer(1, 4 * mm), _p(str(room) if room else _("No shelf position"))]
        rows = [[_p(_("Position")), _p(_("Reference code")), _p(_("Title")), _p(_("Request"))]]
        for entry in entries:
            rows.append(
                [
                    _p(entry["position"].code if entry["position"] else "—", "small"),
                    _p(entry["record"].reference_code, "small"),
                    _p(entry["record"].title, "small"),
                    _p(entry["request"].number, "small"),
                ]
            )
        story.append(_table(rows, [40 * mm, 50 * mm, 65 * mm, 25 * mm]))
    return _build(story, "retrieval")


def use_register(register: dict) -> bytes:
    """利用登记簿: one row per use served in the period (``statistics.use_register``), on
    landscape A4; requests outside the viewer's door appear as a count only."""
    settings = AccessSettings.current()
    period = f"{register['from']:%Y-%m-%d} – {register['to']:%Y-%m-%d}"
    story = [
        _p(settings.archive_name, "title"),
        _p(_("Use register") + f"  {period}", "title"),
        _p(_("Printed") + f" {timezone.localtime():%Y-%m-%d %H:%M}", "small"),
        Spacer(1, 4 * mm),
    ]
    headings = [
        _("Date"),
        _("Request"),
        _("User"),
        _("Purpose of use"),
        _("Method of use"),
        _("Record"),
        _("Pages copied"),
        _("Certificate number"),
        _("Served by"),
        _("Effect of use"),
    ]
    rows = [[_p(h, "small") for h in headings]]
    for row in register["rows"]:
        user = " / ".join(part for part in (row["name"], row["unit"], row["user_type"]) if part)
        rows.append(
            [
                _p(f"{row['date']:%Y-%m-%d}", "small"),
                _p(row["number"], "small"),
                _p(user, "small"),
                _p(row["purpose"], "small"),
                _p(row["method"], "small"),
                _p(f"{row['code']} {row['title']}", "small"),
                _p("" if row["pages"] is None else row["pages"], "small"),
                _p(row["certificate"], "small"),
                _p(row["served_by"], "small"),
                _p(row["effect"], "small"),
            ]
        )
    widths = [mm * w for w in (20, 22, 38, 22, 17, 62, 14, 24, 20, 28)]
    story.append(_table(rows, widths))
    if not register["rows"]:
        story += [Spacer(1, 2 * mm), _p(_("No uses in this period."))]
    story += [
        Spacer(1, 4 * mm),
        _p(_("Uses listed: %(count)d") % {"count": len(register["rows"])}),
    ]
    if register["hidden"]:
        story.append(
            _p(
                _(
                    "Requests not listed (records outside your view) with uses in this "
                    "period: %(count)d"
                )
                % {"count": register["hidden"]}
            )
        )
    return _build(story, "use-register", pagesize=landscape(A4))
