"""Type-ahead on the public search page, in a phone-sized headless Chromium, on every search
backend: suggestions appear as you type, name only open records, and choosing one searches for
its reference code."""

import pytest
from playwright.sync_api import expect

from tests.search.conftest import backend, catalogue, indexed  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("indexed"),
]


def test_suggestions_as_you_type_show_open_records_only(page):
    page.goto("/search/")
    box = page.locator("input[name=q]")
    box.press_sequentially("档案", delay=50)
    suggestions = page.locator(".search-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions).to_contain_text("关于档案馆建设的请示")
    text = suggestions.inner_text()
    for hidden in ("控制", "秘密", "机密", "征集合同"):
        assert hidden not in text, text
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator(".search-suggestions button", has_text="关于档案馆建设的请示").click()
    page.wait_for_url("**/search/?q=*")
    expect(page.locator("input[name=q]")).to_have_value("J012-WS·2019-Y-BGS-0001")
    expect(page.locator("main")).to_contain_text("关于档案馆建设的请示")


def test_escape_or_a_short_prefix_hides_the_suggestions(page):
    page.goto("/search/")
    box = page.locator("input[name=q]")
    box.press_sequentially("档案", delay=50)
    suggestions = page.locator(".search-suggestions")
    expect(suggestions).to_be_visible()
    box.press("Escape")
    expect(suggestions).to_be_hidden()
    # Shown again, then a one-character prefix hides them: each step waits for the list to
    # change, so the second one cannot pass on a list that was hidden already. (Escape also
    # empties a search field, so the prefix is filled in whole; fill() fires the input event.)
    box.fill("档案")
    expect(suggestions).to_be_visible()
    box.fill("档")
    expect(suggestions).to_be_hidden()
