"""Chinese fonts for the files we generate (PDF labels, slips, receipts, reports; watermarks).

One list of candidate font files, the setting ``CJK_FONT_FILE`` first, then fonts installed by
Debian's packages (``fonts-wqy-zenhei`` is the one the README and CI install).

PDFs embed (a subset of) the first candidate reportlab can read, so every viewer and printer
shows the Chinese text. reportlab reads TrueType outlines only: the CFF-based Noto CJK
collections are skipped for PDFs (Pillow reads them for watermarks). With no usable file,
PDFs fall back to reportlab's built-in ``STSong-Light`` CID font, which is not embedded — the
viewer must supply a Chinese font (Acrobat and most Chinese systems do; some Linux viewers show
boxes).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
BUILTIN_PDF_FONT = "STSong-Light"
EMBEDDED_PDF_FONT = "LantaiCJK"


def cjk_font_files() -> list[Path]:
    """Installed candidate font files, the configured one first."""
    configured = getattr(settings, "CJK_FONT_FILE", "")
    return [Path(c) for c in (configured, *CANDIDATES) if c and Path(c).is_file()]


@cache
def pdf_font() -> str:
    """The name of a registered reportlab font for Chinese text (see the module docstring)."""

    for path in cjk_font_files():
        try:
            pdfmetrics.registerFont(TTFont(EMBEDDED_PDF_FONT, str(path), subfontIndex=0))
        except (TTFError, OSError, ValueError):
            continue  # e.g. CFF outlines: try the next one
        return EMBEDDED_PDF_FONT
    pdfmetrics.registerFont(UnicodeCIDFont(BUILTIN_PDF_FONT))
    return BUILTIN_PDF_FONT
