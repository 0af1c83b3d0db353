"""Issue 13 in a browser (headless Chromium): record due → batch review → partial opening with
a withheld page → the public sees the released pages only → declassify → open; and appraisal →
destruction with two persons → 销毁清册 PDF."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from playwright.sync_api import expect

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository import images
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, OpeningReview, Tombstone
from tests.conftest import PASSWORD
from tests.e2e.conftest import signed_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (shade, shade, shade)).save(out, "JPEG")
    return out.getvalue()


def _item(category, n, **extra):
    defaults = dict(
        fonds=category.fonds,
        category=category,
        reference_code=f"J012-WS·1990-Y-BGS-{n:04d}",
        title=f"一九九〇年文件{n}",
        date_start=dt.date(1990, 5, 1),
        date_end=dt.date(1990, 5, 1),
        filing_year=1990,
        retention="Y",
        access_status=AccessStatus.UNREVIEWED,
    )
    defaults.update(extra)
    return Item.objects.create(**defaults)


def test_review_partial_opening_declassify_and_destroy(
    chromium, live_server, settings, tmp_path, archivist_a, keeper
):
    settings.MEDIA_ROOT = tmp_path
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    for perm in ("view_fonds_records", "change_fonds_records"):
        grant(f"repository.{perm}", role_group(Role.ARCHIVIST), fonds)
    ws = Category.objects.create(fonds=fonds, code="WS", name="文书")
    plain = _item(ws, 1)
    scanned = _item(ws, 2, pages=3)
    for n in (1, 2, 3):
        images.add_digital_page(
            scanned, SimpleUploadedFile("p.jpg", _jpeg(40 * n)), acting_user=None, page_number=n
        )
    secret = _item(ws, 3, classification=Classification.SECRET)
    expired = _item(
        ws,
        4,
        reference_code="J012-WS·2000-D10-BGS-0004",
        filing_year=2000,
        retention="D10",
        date_start=None,
        date_end=None,
    )

    desk = signed_in_page(chromium, live_server.url, archivist_a)
    # 1. the queue shows what is due, with its total
    desk.goto("/staff/review/")
    expect(desk.locator("#queue-total")).to_contain_text("共4份")
    # 2. batch review: the plain record and the classified one → refused, nothing changes
    desk.check(f"input[name=selected][value=item-{plain.pk}]")
    desk.check(f"input[name=selected][value=item-{secret.pk}]")
    desk.select_option("#batch select[name=decision]", "open")
    desk.click("#batch button[type=submit]")
    # The refusal names the classified record in the page's messages (the queue lists its code
    # before the post already, so the body alone would not say the answer came).
    expect(desk.locator(".messages")).to_contain_text(secret.reference_code)
    assert not OpeningReview.objects.exists()
    desk.check(f"input[name=selected][value=item-{plain.pk}]")
    desk.select_option("#batch select[name=decision]", "open")
    desk.fill("#batch input[name=unit_name]", "市政府办公室")
    desk.click("#batch button[type=submit]")
    expect(desk.locator(".messages")).to_contain_text("已记录1份档案的审核决定")
    # 3. partial opening of the scanned record, page 2 withheld
    desk.goto(f"/staff/review/item/{scanned.pk}/")
    expect(desk.locator("h1")).to_contain_text("开放审核")
    desk.select_option("select[name=decision]", "partial")
    desk.fill("textarea[name=reason]", "第2页涉及个人隐私")
    desk.fill("input[name=withheld_pages]", "2")
    desk.click("form[enctype] button[type=submit]")
    desk.wait_for_url("**/staff/review/")
    # 4. the public sees pages 1 and 3 only, and 部分开放
    public = chromium.new_context(locale="zh-CN", base_url=live_server.url).new_page()
    public.goto(f"/catalogue/item/{scanned.pk}/")
    expect(public.locator(".page-thumbs figure")).to_have_count(2)
    expect(public.locator("body")).to_contain_text("部分开放")
    withheld = scanned.pages_digitised.get(page_number=2)
    assert public.request.get(f"/catalogue/pages/{withheld.pk}/web.jpg").status == 404
    # 5. declassify the classified record, then open it
    desk.goto(f"/staff/catalogue/item/{secret.pk}/classification/")
    desk.select_option("#declassify select[name=to_level]", "0")
    desk.fill("#declassify textarea[name=basis]", "保密期限届满，经审核无需继续保密")
    desk.fill("#declassify input[name=authority]", "市政府办公室（原定密机关）")
    desk.fill("#declassify input[name=decided_on]", dt.date.today().isoformat())
    desk.click("#declassify button[type=submit]")
    desk.wait_for_url(f"**/staff/catalogue/item/{secret.pk}/")
    desk.goto(f"/staff/review/item/{secret.pk}/")
    desk.select_option("select[name=decision]", "open")
    desk.click("form[enctype] button[type=submit]")
    desk.wait_for_url("**/staff/review/")
    public.goto(f"/catalogue/item/{secret.pk}/")
    expect(public.locator("body")).to_contain_text(secret.title)
    # 6. appraisal → destruction with two persons → 销毁清册
    desk.goto("/staff/appraisal/")
    desk.check(f"#appraise input[name=selected][value=item-{expired.pk}]")
    desk.select_option("#appraise select[name=decision]", "destroy")
    desk.fill("#appraise textarea[name=opinion]", "保管期限已满，无继续保存价值")
    desk.fill("#appraise input[name=appraisers]", "张三、李四")
    desk.click("#appraise button[type=submit]")
    desk.check("#destroy input[name=appraisal]")
    desk.fill("#destroy input[name=method]", "粉碎")
    desk.fill("#destroy input[name=place]", "档案馆销毁室")
    desk.fill("#destroy input[name=destroyed_on]", dt.date.today().isoformat())
    desk.fill("#destroy input[name=second_supervisor]", keeper.username)
    desk.fill("#destroy input[name=second_password]", PASSWORD)
    desk.click("#destroy button[type=submit]")
    expect(desk.locator("#register-pdf")).to_be_visible()
    pdf = desk.request.get(desk.locator("#register-pdf").get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    assert Tombstone.objects.get().reference_code == expired.reference_code
    assert not Item.objects.filter(pk=expired.pk).exists()
    public.goto(f"/catalogue/item/{expired.pk}/")
    expect(public.locator("body")).not_to_contain_text(expired.title)
