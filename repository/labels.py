"""Labels (reportlab): code in text, Code 128 barcode and QR code, Chinese title.

Two sizes: an A4 sheet of 3 × 8 labels (70 × 37 mm, common self-adhesive sheets) and a
60 × 40 mm thermal label (one per page). Chinese text uses ``core.fonts.pdf_font``: an
installed TrueType CJK font, embedded, else reportlab's built-in ``STSong-Light``.

Code 128 carries ASCII only, and reference codes may contain "·": the barcode carries the code
with "·" written as "." (``barcode_payload``); ``scanned_code`` turns a scan back into the code
(segments never contain "."). The QR code carries the code unchanged (UTF-8).
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from core.fonts import pdf_font

SIZES = ("a4", "thermal")


@dataclass(frozen=True)
class Label:
    code: str
    title: str = ""
    line: str = ""  # a second line: a shelf address, a fonds name …


def max_labels() -> int:
    """Labels in one PDF (``LABELS_MAX``): each costs a look-up and a QR code; 2,100 codes took
    47 s of server CPU in one request before there was a limit."""
    return int(settings.LABELS_MAX)


def check_count(count: int) -> None:
    """Refuse more labels than ``LABELS_MAX`` before any is looked up or drawn."""
    if count > max_labels():
        raise ValidationError(
            _("At most %(max)d labels in one PDF (%(count)d asked for): print them in parts.")
            % {"max": max_labels(), "count": count},
            code="too_many_labels",
        )


def barcode_payload(code: str) -> str:
    return code.replace("·", ".")


def scanned_code(text: str) -> str:
    """A scanned or typed code with full-width characters folded (NFKC: "Ｊ０１２－ＷＳ" →
    "J012-WS", "．" → ".") and the ends trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def candidates(text: str) -> list[str]:
    """Codes a scan or a person may stand for: as given and upper-cased (a label typed in
    lower case), each also with "." read as "·" (Code 128 has no "·")."""
    text = scanned_code(text)
    out: list[str] = []
    for form in dict.fromkeys([text, text.upper()]):
        out.append(form)
        if "." in form:
            out.append(form.replace(".", "·"))
    return list(dict.fromkeys(out))


def _font() -> str:
    return pdf_font()


def _fit(pdf: canvas.Canvas, text: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_label(pdf: canvas.Canvas, label: Label, x: float, y: float, w: float, h: float) -> None:
    font = _font()
    pad = 2.5 * mm
    bar_h = 9 * mm
    # The QR code sits top right, above the full-width barcode.
    qr_size = min(h - 2 * pad - bar_h - 1 * mm, 24 * mm)
    # The widget's shapes, built once: getBounds() on the widget builds them, and rendering the
    # widget built them again (the QR code was 60 % of a label's time).
    shapes = qr.QrCodeWidget(label.code, barLevel="M").draw()
    x0, y0, x1, y1 = shapes.getBounds()
    drawing = Drawing(
        qr_size, qr_size, transform=[qr_size / (x1 - x0), 0, 0, qr_size / (y1 - y0), 0, 0]
    )
    drawing.add(shapes)
    renderPDF.draw(drawing, pdf, x + w - pad - qr_size, y + h - pad - qr_size)
    text_w = w - 3 * pad - qr_size
    top = y + h - pad
    pdf.setFont(font, 8)
    if label.title:
        pdf.drawString(x + pad, top - 8, _fit(pdf, label.title, font, 8, text_w))
    if label.line:
        pdf.setFont(font, 7)
        pdf.drawString(x + pad, top - 17, _fit(pdf, label.line, font, 7, text_w))
    code_size = 8
    while code_size > 5 and pdfmetrics.stringWidth(label.code, font, code_size) > text_w:
        code_size -= 0.5
    pdf.setFont(font, code_size)
    pdf.drawString(x + pad, y + pad + bar_h + 1.5 * mm, label.code)
    bar_w = w - 2 * pad
    barcode = code128.Code128(barcode_payload(label.code), barHeight=bar_h, humanReadable=False)
    scale = min(1.0, bar_w / barcode.width) if barcode.width else 1.0
    pdf.saveState()
    pdf.translate(x + pad, y + pad)
    pdf.scale(scale, 1)
    barcode.drawOn(pdf, 0, 0)
    pdf.restoreState()


def labels_pdf(labels: list[Label], *, size: str = "a4") -> bytes:
    """A PDF of labels; ``size`` "a4" (3 × 8 per sheet) or "thermal" (60 × 40 mm)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    check_count(len(labels))
    out = io.BytesIO()
    if size == "thermal":
        w, h = 60 * mm, 40 * mm
        pdf = canvas.Canvas(out, pagesize=(w, h))
        for label in labels:
            _draw_label(pdf, label, 0, 0, w, h)
            pdf.showPage()
    else:
        pdf = canvas.Canvas(out, pagesize=A4)
        cols, rows = 3, 8
        w, h = 70 * mm, 37 * mm
        margin_y = (A4[1] - rows * h) / 2
        for index, label in enumerate(labels):
            slot = index % (cols * rows)
            if index and slot == 0:
                pdf.showPage()
            col, row = slot % cols, slot // cols
            _draw_label(pdf, label, col * w, A4[1] - margin_y - (row + 1) * h, w, h)
        if labels:
            pdf.showPage()
    pdf.setTitle("Lantai labels")
    if not labels:
        pdf.setFont(_font(), 10)
        pdf.drawString(10 * mm, 10 * mm, "—")
        pdf.showPage()
    pdf.save()
    return out.getvalue()
