"""PDF checks shared by the tests."""

import shutil
import subprocess

from core.fonts import BUILTIN_PDF_FONT
from tests.gates import missing


def pdf_has_cjk_font(content: bytes) -> bool:
    """The PDF names a Chinese font: an embedded TrueType subset (``FontFile2``) or reportlab's
    built-in CID font."""
    return b"/FontFile2" in content or BUILTIN_PDF_FONT.encode() in content


def pdf_text(content: bytes) -> str:
    """The text of a PDF (poppler's ``pdftotext``; skipped with the reason when missing)."""
    if not shutil.which("pdftotext"):
        missing("pdftotext (Debian's poppler-utils) is not installed")
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    )
    return out.stdout.decode()
