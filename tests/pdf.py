"""PDF checks shared by the tests."""

from core.fonts import BUILTIN_PDF_FONT


def pdf_has_cjk_font(content: bytes) -> bool:
    """The PDF names a Chinese font: an embedded TrueType subset (``FontFile2``) or reportlab's
    built-in CID font."""
    return b"/FontFile2" in content or BUILTIN_PDF_FONT.encode() in content
