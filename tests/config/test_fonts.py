"""Chinese fonts in generated PDFs: embedded when a TrueType CJK font is installed, else the
built-in CID font (config/fonts.py)."""

from pathlib import Path

import pytest

from core import fonts
from repository import labels
from tests.gates import missing

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
LABEL = labels.Label("J012-WS·2019-Y-BGS-0001", "关于开展档案安全检查的通知", "一号库房")


@pytest.fixture(autouse=True)
def _fresh_font_choice():
    fonts.pdf_font.cache_clear()
    yield
    fonts.pdf_font.cache_clear()


def test_an_installed_truetype_font_is_embedded(settings):
    if not WQY.is_file():
        missing("fonts-wqy-zenhei is not installed (apt-get install fonts-wqy-zenhei)")
    settings.CJK_FONT_FILE = str(WQY)
    assert fonts.pdf_font() == fonts.EMBEDDED_PDF_FONT
    pdf = labels.labels_pdf([LABEL], size="thermal")
    assert b"/FontFile2" in pdf and b"WenQuanYi" in pdf
    assert fonts.BUILTIN_PDF_FONT.encode() not in pdf


def test_without_a_font_file_pdfs_fall_back_to_the_builtin_cid_font(settings, monkeypatch):
    settings.CJK_FONT_FILE = ""
    monkeypatch.setattr(fonts, "CANDIDATES", ())
    assert fonts.pdf_font() == fonts.BUILTIN_PDF_FONT
    pdf = labels.labels_pdf([LABEL], size="thermal")
    assert fonts.BUILTIN_PDF_FONT.encode() in pdf and b"/FontFile2" not in pdf


def test_an_unreadable_font_file_is_skipped(settings, monkeypatch, tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    settings.CJK_FONT_FILE = str(broken)
    monkeypatch.setattr(fonts, "CANDIDATES", ())
    assert fonts.cjk_font_files() == [broken]
    assert fonts.pdf_font() == fonts.BUILTIN_PDF_FONT
