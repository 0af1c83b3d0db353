"""Scanned pages in the browser (issue 16), on every search backend: staff upload a scan with
Chinese text, the OCR worker reads it, a public search finds the record by a phrase from the
page and opens that page; the phrase of a withheld page (opened in part) finds nothing."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository.services import decide_opening
from search import ocr
from tests.e2e.conftest import signed_in_page
from tests.search.conftest import backend, catalogue, indexed, sync  # noqa: F401 - fixtures
from tests.search.test_ocr import _need_tesseract, scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_upload_read_find_open_and_withheld_stays_hidden(
    chromium,
    live_server,
    page,
    indexed,  # noqa: F811 - the fixture imported above
    backend,  # noqa: F811
    admin_user,
    settings,
    tmp_path,
):
    _need_tesseract()
    settings.MEDIA_ROOT = tmp_path
    record = indexed["loan"]  # 借阅制度修订, open
    grant("repository.view_fonds_records", role_group(Role.ADMINISTRATOR), record.fonds)
    grant("repository.change_fonds_records", role_group(Role.ADMINISTRATOR), record.fonds)
    staff = signed_in_page(chromium, live_server.url, admin_user)
    staff.goto(reverse("repository:staff-record", args=["item", record.pk]))
    for n, text in enumerate(("仓库温湿度巡查记录", "秘密补充说明不得公开"), start=1):
        path = tmp_path / f"scan-{n}.png"
        path.write_bytes(scan(text))
        staff.locator("form.page-upload input[name=image]").set_input_files(str(path))
        staff.get_by_role("button", name="上传页面").click()
        expect(staff.locator("main")).to_contain_text(f"已添加第 {n} 页")
    staff.context.close()
    record.refresh_from_db()
    decide_opening(
        record, "partial", acting_user=admin_user, withheld_pages=[2], reason="涉及个人隐私"
    )

    call_command("ocr_pages", "--once", "--nice", "0")
    assert ocr.status()["pending"] == 0
    sync(backend)

    page.goto("/search/?q=温湿度巡查")
    expect(page.locator(".search-hit")).to_have_count(1)
    expect(page.locator(".search-hit")).to_contain_text("借阅制度修订")
    link = page.locator(".search-page a")
    expect(link).to_have_text("第 1 页")
    with page.expect_response("**/web.jpg") as response:
        link.click()
    assert response.value.status == 200
    assert response.value.headers["content-type"] == "image/jpeg"

    page.goto("/search/?q=秘密补充说明")
    expect(page.locator(".search-none")).to_be_visible()
    expect(page.locator(".search-hit")).to_have_count(0)
