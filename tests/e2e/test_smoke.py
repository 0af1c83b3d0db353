import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_staff_signs_in_on_a_phone_and_sees_the_staff_home_in_chinese(page, front_desk):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "front_desk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/")
    assert page.locator("h1").inner_text() == "工作台"
    assert "利用接待" in page.content()
    # The page fits a phone: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_language_switch_to_english(page, db):
    page.goto("/accounts/login/")
    assert page.locator("h1").inner_text() == "登录"
    page.select_option("select[name=language]", "en")  # submits itself (static/js/lantai.js)
    expect(page.locator("h1")).to_have_text("Sign in")
