"""Issue 13, bullet 6: a review desk archivists can work at (and the appraisal pages)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.choices import Classification
from repository.choices import AccessStatus, AppraisalDecision
from repository.models import Destruction, Item, OpeningReview, Tombstone
from tests.conftest import PASSWORD
from tests.repository.conftest import make_item

QUEUE = reverse("repository:staff-review")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def desk(client_for, archivist_a):
    return client_for(archivist_a)


def due(ws, n, **extra):
    extra.setdefault("access_status", AccessStatus.UNREVIEWED)
    return make_item(ws, n, year=1990, **extra)


def test_the_queue_counts_and_pages_through_every_due_record(ws, desk):
    """The old queue stopped silently at 100 rows per kind with no total."""
    Item.objects.bulk_create(
        [
            Item(
                fonds=ws.fonds,
                category=ws,
                reference_code=f"J012-WS·1990-Y-BGS-{n:04d}",
                title=f"文件{n}",
                filing_year=1990,
                date_end=dt.date(1990, 1, 1),
                access_status=AccessStatus.UNREVIEWED,
            )
            for n in range(1, 131)
        ]
    )
    response = desk.get(QUEUE, {"headers": "en"})
    assert response.context["total"] == 130
    last = desk.get(QUEUE, {"page": 3})
    assert len(last.context["page"].object_list) == 30
    assert "J012-WS·1990-Y-BGS-0130" in last.content.decode()


def test_look_ahead_and_filters(ws, desk):
    today = dt.date.today()
    soon = today.replace(year=today.year - 25) + dt.timedelta(days=60)
    coming = make_item(ws, 1, date_end=soon, access_status=AccessStatus.UNREVIEWED)
    due(ws, 2, creator="办公室")
    due(ws, 3, creator="财务科", classification=1)
    keys = lambda r: {x.reference_code for x in r.context["page"]}  # noqa: E731
    assert coming.reference_code not in keys(desk.get(QUEUE))
    assert coming.reference_code in keys(desk.get(QUEUE, {"ahead": 6}))
    assert len(keys(desk.get(QUEUE, {"creator": "财务"}))) == 1
    assert len(keys(desk.get(QUEUE, {"classification": 1}))) == 1


def test_a_batch_decision_is_all_or_nothing_with_one_message_per_refusal(ws, desk):
    a, b = due(ws, 1), due(ws, 2)
    secret = due(ws, 3, classification=Classification.SECRET)
    response = desk.post(
        QUEUE,
        {"selected": [f"item-{a.pk}", f"item-{b.pk}", f"item-{secret.pk}"], "decision": "open"},
    )
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(secret.reference_code in t and ("declassify" in t or "解密" in t) for t in texts)
    assert not any(a.reference_code in t for t in texts)
    assert not OpeningReview.objects.exists()
    desk.post(
        QUEUE,
        {
            "selected": [f"item-{a.pk}", f"item-{b.pk}"],
            "decision": "open",
            "unit_name": "市财政局",
            "unit_opinion_on": "2024-05-01",
            "unit_opinion": "同意开放",
        },
    )
    assert set(Item.objects.filter(access_status="open").values_list("pk", flat=True)) == {
        a.pk,
        b.pk,
    }
    assert set(OpeningReview.objects.values_list("unit_name", flat=True)) == {"市财政局"}


def test_the_decision_page_shows_the_record_and_says_审核(ws, desk, archivist_a):
    item = due(ws, 1, creator="办公室", pages=2, notes="附注内容")
    url = reverse("repository:staff-review-decide", args=["item", item.pk])
    with translation.override("zh-hans"):
        page = desk.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "附注内容" in page and "办公室" in page and item.reference_code in page
    assert "审核" in page and "审批" not in page
    response = desk.post(
        url,
        {
            "decision": "controlled",
            "reason": "涉及个人隐私",
            "next_review_on": (dt.date.today() + dt.timedelta(days=365)).isoformat(),
            "unit_name": "市民政局",
            "unit_opinion_on": "2024-05-01",
            "unit_opinion": "建议控制",
            "unit_attachment": SimpleUploadedFile("意见.pdf", b"%PDF-1.4 opinion"),
        },
    )
    assert response.status_code == 302
    review = OpeningReview.objects.get(item=item)
    assert review.unit_name == "市民政局" and review.unit_attachment.name.endswith(".pdf")


def test_the_review_sheet_goes_out_and_its_decisions_come_back(ws, desk, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a, b = due(ws, 1), due(ws, 2, pages=3)
    sheet = desk.get(reverse("repository:staff-review-sheet"))
    book = load_workbook(io.BytesIO(sheet.content))
    rows = list(book.active.iter_rows(min_row=2))
    assert {r[1].value for r in rows} == {a.reference_code, b.reference_code}

    def upload(fill):
        for row in rows:
            for column, value in fill.get(row[1].value, {}).items():
                row[column].value = value
        out = io.BytesIO()
        book.save(out)
        return desk.post(
            reverse("repository:staff-review-sheet-upload"),
            {"file": SimpleUploadedFile("sheet.xlsx", out.getvalue())},
        )

    bad = upload({a.reference_code: {6: "开放"}, b.reference_code: {6: "部分开放", 9: "7"}})
    texts = [str(m) for m in get_messages(bad.wsgi_request)]
    assert any(b.reference_code in t and ("Row" in t or "行" in t) for t in texts), texts
    assert not OpeningReview.objects.exists()  # all or nothing
    upload({b.reference_code: {6: "部分开放", 7: "第2页涉密", 9: "2"}})
    assert Item.objects.get(pk=a.pk).access_status == AccessStatus.OPEN
    assert Item.objects.get(pk=b.pk).access_status == AccessStatus.PARTIAL
    assert OpeningReview.objects.get(item=b).withheld_pages == [2]


def test_appraisal_and_destruction_pages(ws, desk, keeper, archivist_a):
    old = make_item(ws, 1, year=2000, retention="D10")
    page = reverse("repository:staff-appraisal")
    assert old.reference_code in desk.get(page).content.decode()
    desk.post(
        page,
        {
            "action": "appraise",
            "selected": [f"item-{old.pk}"],
            "decision": AppraisalDecision.DESTROY,
            "opinion": "无保存价值",
            "appraisers": "张三、李四",
        },
    )
    appraisal = old.appraisals.get()
    form = {
        "action": "destroy",
        "appraisal": [appraisal.pk],
        "method": "粉碎",
        "place": "销毁室",
        "destroyed_on": dt.date.today().isoformat(),
        "second_supervisor": keeper.username,
        "second_password": "wrong",
    }
    desk.post(page, form)
    assert Item.objects.filter(pk=old.pk).exists()  # one person alone destroys nothing
    response = desk.post(page, form | {"second_password": PASSWORD})
    destruction = Destruction.objects.get()
    assert response.url == reverse("repository:staff-destruction", args=[destruction.pk])
    assert not Item.objects.filter(pk=old.pk).exists()
    assert Tombstone.objects.get().reference_code == old.reference_code
    pdf = desk.get(reverse("repository:staff-destruction-register", args=[destruction.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert (destruction.supervisor_1, destruction.supervisor_2) == (archivist_a, keeper)
