"""Chinese first: every message in the zh-Hans catalogue is translated and none is fuzzy
(fuzzy entries are not compiled, so the page would silently show English)."""

from pathlib import Path

from babel.messages.pofile import read_po

PO = Path(__file__).resolve().parents[2] / "locale/zh_Hans/LC_MESSAGES/django.po"


def test_zh_hans_catalogue_is_complete():
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    empty = [
        m.id
        for m in catalog
        if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    assert not fuzzy, f"fuzzy translations: {fuzzy[:10]}"
    assert not empty, f"untranslated: {empty[:10]}"
