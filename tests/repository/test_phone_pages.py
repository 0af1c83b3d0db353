"""Pages a keeper uses on a phone, in headless Chromium (390 px wide): where-is, the stocktake
scan page, and the public record page."""

import pytest
from playwright.sync_api import expect

from repository import services
from repository.choices import AccessStatus
from repository.models import Position
from tests.conftest import PASSWORD
from tests.e2e.conftest import chromium, page  # noqa: F401 - fixtures
from tests.repository.conftest import make_item

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, username):  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/")


def fits_phone(page) -> bool:  # noqa: F811
    return page.evaluate("document.documentElement.scrollWidth") <= 390


def test_where_is_on_a_phone(page, ws, unit, archivist_a):  # noqa: F811
    item = make_item(ws)
    position = Position.objects.order_by("path").first()
    services.move_record(item, position, acting_user=archivist_a, reason="入库")
    sign_in(page, "archivist_a")
    page.goto("/staff/locations/where/")
    page.fill("input[name=code]", item.reference_code)
    page.press("input[name=code]", "Enter")
    page.wait_for_selector(".location-big")
    assert "第1列" in page.locator(".location-big").inner_text()
    assert fits_phone(page)


def test_stocktake_scanning_on_a_phone(page, ws, room, unit, archivist_a):  # noqa: F811
    item = make_item(ws)
    position = Position.objects.order_by("path").first()
    services.move_record(item, position, acting_user=archivist_a, reason="入库")
    sign_in(page, "archivist_a")
    page.goto("/staff/stocktakes/")
    page.select_option("select[name=room]", str(room.pk))
    page.click("main form button[type=submit]")
    page.wait_for_url("**/m/stocktake/*/")
    page.fill("input[name=code]", position.code)
    page.press("input[name=code]", "Enter")
    expect(page.locator(".location-big code")).to_have_text(position.code)  # the shelf scanned
    page.fill("input[name=code]", item.reference_code)
    page.press("input[name=code]", "Enter")
    page.wait_for_selector(f".scans >> text={item.reference_code}")
    assert fits_phone(page)
    confirms = []
    page.once("dialog", lambda dialog: (confirms.append(dialog.message), dialog.accept()))
    page.click("text=结束并生成报告")
    page.wait_for_url("**/staff/stocktakes/*/")
    assert "应在架 1 件，在位 1 件" in page.content()
    assert confirms and "未扫描" in confirms[0]  # asked once, saying what will happen


def test_public_record_page_on_a_phone(page, ws):  # noqa: F811
    item = make_item(ws, access_status=AccessStatus.OPEN)
    page.goto(f"/catalogue/item/{item.pk}/")
    assert page.locator("h1").inner_text() == item.title
    assert "档号" in page.content()
    assert fits_phone(page)
