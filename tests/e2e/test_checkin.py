"""Mobile check-in in headless Chromium on a phone viewport, and decoding generated codes with
the vendored JavaScript decoder."""

from __future__ import annotations

import base64
import io

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode import createBarcodeDrawing, qrencoder

from accounts.choices import Role
from accounts.models import AuditLog
from accounts.permissions import grant, role_group
from borrowing import services
from borrowing.choices import RequestState
from borrowing.models import AccessRequest, Loan
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, Position, ShelvingUnit, StoreRoom
from tests.conftest import PASSWORD
from tests.e2e.conftest import collect_console_errors

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_catalogue():
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    room = StoreRoom.objects.create(code="K01", name="一号库")
    unit = ShelvingUnit.objects.create(room=room, code="03")
    position = Position.objects.create(
        room=room,
        unit=unit,
        column=1,
        section=1,
        layer=1,
        code=Position.make_code("K01", "03", "A", 1, 1, 1),
        path=Position.make_path("K01", "03", "A", 1, 1, 1),
    )
    item = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J012-WS·2019-Y-BGS-0001",
        title="关于档案馆建设的通知",
        access_status=AccessStatus.OPEN,
        position=position,
    )
    for role in (Role.FRONT_DESK, Role.KEEPER):
        grant("repository.view_fonds_records", role_group(role), fonds)
    return item, position


def sign_in(page, username):
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # Signed in when the page carries the sign-out form (the login page itself has none).
    expect(page.locator("form[action$='/accounts/logout/']")).to_be_attached()


def test_request_to_check_in_in_the_browser(page, researcher, front_desk, keeper):
    item, position = make_catalogue()
    # The researcher finds the record on the public search page and requests it (the database
    # search backend, whatever the environment configures: this test is about borrowing).
    from search.backends import use_backend
    from search.backends.database import DatabaseSearchBackend
    from search.outbox import enqueue
    from search.sync import drain_once

    engine = DatabaseSearchBackend()
    engine.setup()
    with use_backend(engine):
        enqueue(item)
        while drain_once(backend=engine).taken:
            pass
        engine.refresh()
        sign_in(page, "researcher")
        page.goto("/search/?q=档案馆建设")
        page.click(f"a[href='/requests/new/?item={item.pk}']")
        expect(page.locator("h1")).to_have_text("申请利用")
    page.select_option("select[name=purpose]", "research")
    page.select_option("select[name=method-0]", "reading")
    page.select_option("select[name=id_document_type]", "resident_id")
    page.fill("input[name=id_number]", "110101199001061234")
    page.fill("input[name=id_document_expires]", "2040-01-01")
    page.click("#submit-request")
    expect(page.locator("mark.state")).to_have_text("已提交")
    req = AccessRequest.objects.get()
    # The front desk approves, marks retrieved, checks out.
    sign_in(page, "front_desk")
    page.goto(f"/staff/borrowing/requests/{req.pk}/")
    assert "********1234" in page.content()
    page.click("#decide")
    expect(page.locator("mark.state")).to_have_text("已批准")
    page.click("#retrieve")
    expect(page.locator("mark.state")).to_have_text("已调档")
    page.fill("input[name=identity_seen]", "居民身份证原件")  # the first use: document seen
    page.click("#checkout")
    expect(page.locator("mark.state")).to_have_text("已借出")
    # The keeper checks it in on the phone: type the code, confirm, scan the shelf.
    sign_in(page, "keeper")
    console_errors = collect_console_errors(page)
    page.goto("/m/checkin/")
    page.fill("#code", services.record_code(item))
    page.click("#lookup")
    expect(page.locator("#loan-ref")).to_have_text(item.reference_code)
    expect(page.locator("#loan-position")).to_have_text(position.code)
    page.click("#confirm-return")
    expect(page.locator("#result")).to_contain_text("已归还")
    page.fill("#position", position.code)
    page.click("#shelve")
    expect(page.locator("#result")).to_contain_text(position.code)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert console_errors == []  # nothing blocked by the CSP, no script errors
    req.refresh_from_db()
    assert req.state == RequestState.RETURNED
    assert Loan.objects.active().count() == 0
    assert AuditLog.objects.filter(action="borrowing.record.reshelved").count() == 1


def test_offline_scan_is_queued_and_synced_once(page, front_desk, researcher, keeper):
    item, _position = make_catalogue()
    today = timezone.localdate()
    req = services.create_access_request(
        acting_user=researcher,
        records=[item],
        purpose="research",
        date_from=today,
        date_to=today,
        id_document_type="passport",
        id_number="E1234567",
    )
    services.approve_access_request(req, acting_user=front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    services.check_out_access_request(req, acting_user=front_desk, identity_seen="护照")
    sign_in(page, "keeper")
    page.goto("/m/checkin/")
    page.fill("#code", services.record_code(item))
    page.click("#lookup")
    expect(page.locator("#loan")).to_be_visible()
    page.context.set_offline(True)
    page.click("#confirm-return")
    expect(page.locator("#sync-status")).to_contain_text("1")
    assert Loan.objects.active().count() == 1
    # Back online: the queued scan is sent (twice, to show a resend changes nothing).
    queued = page.evaluate("window.lantaiCheckin.queue()")
    # Back online fires the page's own sync as well: sync() joins a running one (never two
    # posts of one scan at once) and its promise, awaited here, ends when the queue is sent.
    page.context.set_offline(False)
    page.evaluate("window.lantaiCheckin.sync()")
    expect(page.locator("#checkin")).to_have_attribute("data-sync", "idle")
    expect(page.locator("#result")).to_contain_text("已归还")
    page.evaluate("q => localStorage.setItem('lantai.checkin.queue', JSON.stringify(q))", queued)
    page.evaluate("window.lantaiCheckin.sync()")
    expect(page.locator("#checkin")).to_have_attribute("data-sync", "idle")
    expect(page.locator("#sync-status")).to_have_text("")
    assert page.evaluate("window.lantaiCheckin.queue().length") == 0
    assert Loan.objects.active().count() == 0
    assert AuditLog.objects.filter(action="borrowing.loan.returned").count() == 1


def qr_png_data_url(value: str, module: int = 8) -> str:
    """A QR code (reportlab's encoder, UTF-8 byte mode) drawn crisply with Pillow."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(value)
    code.make()
    count = code.getModuleCount()
    size = (count + 8) * module
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for row in range(count):
        for col in range(count):
            if code.isDark(row, col):
                x, y = (col + 4) * module, (row + 4) * module
                draw.rectangle([x, y, x + module - 1, y + module - 1], fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def code128_svg_data_url(value: str) -> str:
    """A Code 128 barcode as reportlab draws it on the slips, rendered to SVG."""
    drawing = createBarcodeDrawing(
        "Code128", value=value, barWidth=2, barHeight=80, humanReadable=False, quiet=True
    )
    svg = renderSVG.drawToString(drawing)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def data_url(kind: str, value: str) -> str:
    return qr_png_data_url(value) if kind == "QR" else code128_svg_data_url(value)


@pytest.mark.parametrize(
    ("kind", "value"), [("QR", "J012-WS·2019-Y-BGS-0001"), ("Code128", "I12345")]
)
def test_generated_codes_decode_with_the_vendored_decoder(page, keeper, kind, value):
    sign_in(page, "keeper")
    page.goto("/m/checkin/")
    page.wait_for_function("window.lantaiCheckin && window.ZXing")
    decoded = page.evaluate(
        """async (src) => {
            const img = new Image();
            img.src = src;
            await img.decode();
            const scaled = document.createElement('canvas');
            scaled.width = img.naturalWidth * 2; scaled.height = img.naturalHeight * 2;
            const ctx = scaled.getContext('2d');
            ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, scaled.width, scaled.height);
            ctx.drawImage(img, 0, 0, scaled.width, scaled.height);
            return await window.lantaiCheckin.decodeImage(scaled);
        }""",
        data_url(kind, value),
    )
    assert decoded == value
