"""Replacing and deleting a digitised page on a phone: the record page's controls fit the
screen, the new scan replaces page 1, and deleting page 2 asks first (declined: nothing
happens; accepted: the page is gone)."""

import io

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect

from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository import images
from repository.choices import AccessStatus
from repository.models import Category, DigitalPage, Fonds, Item
from tests.e2e.conftest import PHONE, signed_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def png(width: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, 300), "white").save(out, "PNG")
    return out.getvalue()


def test_replace_and_delete_a_page_on_a_phone(
    chromium, live_server, admin_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    for perm in ("repository.view_fonds_records", "repository.change_fonds_records"):
        grant(perm, role_group(Role.ADMINISTRATOR), fonds)
    item = Item.objects.create(
        fonds=fonds,
        category=Category.objects.create(fonds=fonds, code="WS", name="文书"),
        reference_code="J012-WS·2019-Y-BGS-0001",
        title="借阅制度修订",
        access_status=AccessStatus.OPEN,
    )
    first, second = [images.add_digital_page(item, png(400), acting_user=None) for _ in range(2)]
    staff = signed_in_page(chromium, live_server.url, admin_user)
    staff.goto(reverse("repository:staff-record", args=["item", item.pk]))
    staff.get_by_text("替换或删除页面").click()
    assert staff.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    path = tmp_path / "new-scan.png"
    path.write_bytes(png(700))
    row = staff.locator(f"#page-{first.pk}")
    row.locator("input[name=image]").set_input_files(str(path))
    row.get_by_role("button", name="替换扫描件").click()
    expect(staff.locator("main")).to_contain_text("已替换第 1 页")
    assert DigitalPage.objects.get(pk=first.pk).width == 700

    staff.get_by_text("替换或删除页面").click()
    asked = []
    staff.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    staff.locator(f"#page-{second.pk}").get_by_role("button", name="删除此页").click()
    assert asked and asked[0].startswith("删除第 2 页？")
    assert DigitalPage.objects.filter(pk=second.pk).exists()  # declined: nothing happened
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.locator(f"#page-{second.pk}").get_by_role("button", name="删除此页").click()
    expect(staff.locator("main")).to_contain_text("已删除第 2 页")
    assert not DigitalPage.objects.filter(pk=second.pk).exists()
    staff.context.close()
