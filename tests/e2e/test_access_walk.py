"""The whole walk of issue 15 in headless Chromium: a member of the public registers and
verifies their e-mail, asks for two records (one open, one controlled, listed metadata-only)
with a purpose, the approver decides from the inbox, the desk checks identity, serves 查阅 and
a certified 复制, prints the slip and the certificate, takes the return with a count, the
effect is recorded, and the statistics and the annual-report export show those figures."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import grant, role_group
from borrowing import services
from borrowing.models import AccessRequest
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item
from tests.e2e.test_checkin import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ID_NUMBER = "11010519491231002X"  # GB 11643's own example


def test_registration_to_annual_report(page, front_desk, approver_secret, admin_user):
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    open_item = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J012-WS·2019-Y-BGS-0001",
        title="关于档案馆建设的通知",
        access_status=AccessStatus.OPEN,
        pages=8,
    )
    controlled = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J012-WS·2019-Y-BGS-0002",
        title="关于土地征收的批复",
        access_status=AccessStatus.CONTROLLED,
        classification=Classification.NONE,
    )
    for role in (Role.FRONT_DESK, Role.APPROVER):
        grant("repository.view_fonds_records", role_group(role), fonds)
    services.update_access_settings(
        acting_user=admin_user, values={"archive_name": "某市档案馆"}, metadata_fonds=[fonds]
    )
    # 1. Registration and e-mail verification.
    page.goto("/accounts/login/")
    page.click("#register-link")
    page.fill("input[name=username]", "lihua")
    page.fill("input[name=real_name]", "李华")
    page.fill("input[name=email]", "li@example.org")
    page.fill("input[name=password]", "long-pass-2026-x")
    page.select_option("select[name=id_document_type]", "resident_id")
    page.fill("input[name=id_number]", "110105194912310021")  # wrong check digit
    page.fill("input[name=id_document_expires]", "2040-01-01")
    page.click("#register")
    expect(page.locator("form#register-form")).to_contain_text("GB 11643")
    page.fill("input[name=password]", "long-pass-2026-x")
    page.fill("input[name=id_number]", ID_NUMBER)
    page.click("#register")
    expect(page.locator("h1")).to_have_text("注册成功")
    link = re.search(r"https?://[^/\s]+(/accounts/verify/\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    expect(page.locator("#verified")).to_be_visible()
    # 2. Two records into the basket (one open, one controlled), one request with a purpose.
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "lihua")
    page.fill("input[name=password]", "long-pass-2026-x")
    page.click("button[type=submit]")
    expect(page.locator("form[action$='/accounts/logout/']")).to_be_attached()  # signed in
    page.goto("/requests/controlled/")
    expect(page.locator("#controlled")).to_contain_text(controlled.reference_code)
    # The button posts to the basket and comes back to the same page: wait for the basket's
    # answer, or the next navigation would cancel the post.
    with page.expect_response(
        lambda r: r.url.endswith("/requests/basket/") and r.request.method == "POST"
    ):
        page.click("#controlled button")
    page.goto("/requests/basket/")
    page.request.post(  # what a record page's "add to basket" button sends
        "/requests/basket/",
        form={
            "action": "add",
            "item": str(open_item.pk),
            "csrfmiddlewaretoken": page.locator(
                "input[name=csrfmiddlewaretoken]"
            ).first.get_attribute("value"),
        },
    )
    page.goto("/requests/basket/")
    expect(page.locator("#basket tbody tr")).to_have_count(2)
    page.click("#request-basket")
    page.select_option("select[name=purpose]", "evidence")
    page.select_option("select[name=method-0]", "reading")
    page.select_option("select[name=method-1]", "copying")
    page.fill("input[name=copy_pages-1]", "6")
    page.check("input[name=certified-1]")
    page.click("#submit-request")
    expect(page.locator("mark.state")).to_have_text("已提交")
    req = AccessRequest.objects.get(requester__username="lihua")
    assert req.purpose.name == "落实政策/个人取证"
    # 3. The approver decides from the inbox (the controlled record asks for an approver).
    sign_in(page, "approver_secret")
    page.goto("/staff/borrowing/inbox/")
    row = page.locator(f"article[data-request='{req.pk}']")
    expect(row).to_contain_text("控制使用")
    expect(row).to_contain_text("第 1 步")
    sign_in(page, "front_desk")
    page.goto(f"/staff/borrowing/requests/{req.pk}/")
    expect(page.locator("#decide")).to_have_count(0)  # not the desk's step: not offered
    expect(page.locator("#slip")).to_have_count(0)  # no slip before approval
    sign_in(page, "approver_secret")
    page.goto("/staff/borrowing/inbox/")
    page.click(f"article[data-request='{req.pk}'] header a")
    page.click("#decide")
    expect(page.locator("mark.state")).to_have_text("已批准")
    # 4. The desk: retrieve, identity check at the first use, hand out, copy, prints.
    sign_in(page, "front_desk")
    page.goto(f"/staff/borrowing/?q={ID_NUMBER[-4:]}")
    page.click(f"text={req.number}")
    page.click("#retrieve")
    page.fill("form[action$='/checkout/'] input[name=identity_seen]", "居民身份证原件")
    page.click("#checkout")
    expect(page.locator("mark.state")).to_have_text("已借出")
    expect(page.locator("#identity-check")).to_contain_text("居民身份证原件")
    page.fill(".serve-form input[name=pages]", "6")
    page.click(".serve-form button")
    expect(page.locator("#lines")).to_contain_text("ZM")
    slip = page.request.get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
    assert slip.ok and slip.headers["content-type"] == "application/pdf"
    line = req.lines.get(method="copying")
    certificate = page.request.get(f"/staff/borrowing/lines/{line.pk}/certificate.pdf")
    assert certificate.ok and certificate.body().startswith(b"%PDF")
    # 5. The return with a completeness count, then the effect of use.
    page.fill(".return-form input[name=counted]", "8")
    page.fill(".return-form input[name=condition]", "完好")
    page.click(".return-form button")
    expect(page.locator("mark.state")).to_have_text("已归还")
    page.select_option("select[name=effect]", "evidence")
    page.fill("textarea[name=note]", "办理退休手续")
    page.click(".effect-form button")
    expect(page.locator("dl.facts")).to_contain_text("办理退休手续")  # recorded, page reloaded
    page.click("#close")
    expect(page.locator("mark.state")).to_have_text("已关闭")
    # 6. Statistics and the annual-report export show the figures.
    page.goto("/staff/borrowing/statistics/")
    expect(page.locator("tr[data-figure=persons] td").nth(1)).to_have_text("1")
    expect(page.locator("tr[data-figure=item_uses] td").nth(1)).to_have_text("2")
    expect(page.locator("tr[data-figure=copy_pages] td").nth(1)).to_have_text("6")
    expect(page.locator("tr[data-figure=certificates] td").nth(1)).to_have_text("1")
    export = page.request.get("/staff/borrowing/statistics/?format=xlsx")
    sheet = load_workbook(io.BytesIO(export.body())).active
    figures = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert figures["利用人次"] == 1 and figures["复制页数"] == 6
    assert User.objects.get(username="lihua").reader_profile.email_verified_at is not None
