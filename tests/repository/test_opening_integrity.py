"""Issue 13, bullets 1–3: opening only by decision, 部分开放 for real, volume and item agree.

Each test reproduces what got through on the old code (see the issue) and fails there."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from accounts.choices import Classification
from repository import images, services
from repository.choices import AccessStatus, DecisionSource, OpeningDecision
from repository.exports import COLUMNS, row_for
from repository.imports import import_catalogue
from repository.models import Item, OpeningReview, Volume
from search.documents import build_document, iter_documents
from tests.repository.conftest import make_item, make_volume


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 60), "white").save(out, "JPEG")
    return out.getvalue()


def scan(record, n, user):
    return images.add_digital_page(
        record, SimpleUploadedFile(f"p{n}.jpg", jpeg()), acting_user=user, page_number=n
    )


# --- 1. opening only by decision -------------------------------------------------------------


def test_every_door_refuses_to_open_a_record(ws, archivist_a, client_for):
    """Service, form, API (create and update), import: none opens a record; the admin has no
    record pages at all. Only ``decide_opening`` does, and it leaves a decision row."""
    item = make_item(ws, year=1990, access_status=AccessStatus.UNREVIEWED)
    # services
    with pytest.raises(ValidationError, match="opening review decision") as exc:
        services.update_record(item, {"access_status": "open"}, acting_user=archivist_a)
    assert "editing the description" in str(exc.value)
    with pytest.raises(ValidationError, match="opening review decision"):
        services.create_record(
            "item",
            {
                "fonds": ws.fonds,
                "category": ws,
                "title": "新",
                "date": "2019",
                "creator": "某市档案局",
                "retention": "Y",
                "access_status": "open",
            },
            acting_user=archivist_a,
        )
    client = client_for(archivist_a)
    # the description form: the field is shown but a forged value changes nothing
    edit = reverse("repository:staff-record-edit", args=["item", item.pk])
    form = client.get(edit).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(access_status="open", date="1990-03-01")
    client.post(edit, data)
    # the API: refused with the rule and the door named
    response = client.patch(
        f"/api/v1/items/{item.pk}/", {"access_status": "open"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.content.decode()  # the API answers in the archive's language (zh-hans)
    assert "开放审核决定" in body or "opening review decision" in body
    assert "接口" in body or "the API" in body
    response = client.post(
        "/api/v1/items/",
        {
            "fonds": ws.fonds.pk,
            "category": ws.pk,
            "title": "新",
            "date": "2019",
            "creator": "某市档案局",
            "retention": "Y",
            "access_status": "open",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    # the admin has no page that edits records
    assert Item not in admin.site._registry and Volume not in admin.site._registry
    item.refresh_from_db()
    assert item.access_status == AccessStatus.UNREVIEWED
    assert not OpeningReview.objects.filter(item=item).exists()
    # the one door
    services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)
    item.refresh_from_db()
    assert item.access_status == AccessStatus.OPEN
    assert OpeningReview.objects.filter(item=item, source=DecisionSource.REVIEW).count() == 1


def test_an_imported_status_is_kept_as_an_imported_decision(ws, archivist_a):
    data = (
        "全宗号,门类代码,题名,责任者,日期,保管期限,开放标识,机构（问题）\n"
        f"{ws.fonds.code},WS,开放的文件,市档案局,1990-01-02,Y,开放,BGS\n"
        f"{ws.fonds.code},WS,未审核的文件,市档案局,1990-01-03,Y,未审核,BGS\n"
        f"{ws.fonds.code},WS,部分开放的文件,市档案局,1990-01-04,Y,部分开放,BGS\n"
    ).encode()
    report = import_catalogue(data, "目录.csv", acting_user=archivist_a, kind="item", dry_run=False)
    assert report.written == 2, report.rejected
    assert "withheld pages" in report.rejected[0][2]
    opened = Item.objects.get(title="开放的文件")
    review = OpeningReview.objects.get(item=opened)
    assert (review.source, review.source_file, review.source_row) == ("import", "目录.csv", 2)
    assert review.decided_by == archivist_a and review.status_after == AccessStatus.OPEN
    assert not OpeningReview.objects.filter(item__title="未审核的文件").exists()


def test_lowering_a_classification_is_not_a_field_edit(ws, archivist_a):
    item = make_item(ws, classification=Classification.SECRET)
    with pytest.raises(ValidationError, match="declassification decision"):
        services.update_record(item, {"classification": 0}, acting_user=archivist_a)


def test_defer_keeps_the_status_and_sets_the_next_review(ws, archivist_a):
    import datetime as dt

    item = make_item(ws, year=1990, access_status=AccessStatus.UNREVIEWED)
    later = dt.date.today() + dt.timedelta(days=90)
    with pytest.raises(ValidationError):
        services.decide_opening(item, OpeningDecision.DEFERRED, acting_user=archivist_a)
    services.decide_opening(
        item,
        OpeningDecision.DEFERRED,
        acting_user=archivist_a,
        reason="待移交单位意见",
        next_review_on=later,
    )
    item.refresh_from_db()
    assert item.access_status == AccessStatus.UNREVIEWED and item.next_review_on == later


# --- 2. 部分开放 for real --------------------------------------------------------------------


def test_partial_opening_withholds_pages_scanned_later(ws, archivist_a, client_for):
    item = make_item(ws, year=1990, pages=3, access_status=AccessStatus.UNREVIEWED)
    scan(item, 1, archivist_a)
    with pytest.raises(ValidationError, match="no page 9"):
        services.decide_opening(
            item,
            OpeningDecision.PARTIAL,
            acting_user=archivist_a,
            reason="涉及个人隐私",
            withheld_pages=[2, 9],
        )
    services.decide_opening(
        item,
        OpeningDecision.PARTIAL,
        acting_user=archivist_a,
        reason="涉及个人隐私",
        withheld_pages=[2],
    )
    later = scan(item, 2, archivist_a)  # page 2 scanned after the decision
    scan(item, 3, archivist_a)
    assert later.withheld is True
    public = client_for(None)
    listed = public.get(f"/api/v1/items/{item.pk}/pages/").json()
    assert [p["page_number"] for p in listed] == [1, 3]
    assert public.get(reverse("repository:page-image", args=[later.pk, "web"])).status_code == 404
    detail = public.get(f"/api/v1/items/{item.pk}/").json()
    assert detail["access_status"] == "partial"
    assert build_document(Item.objects.get(pk=item.pk))["is_public"] is True
    with translation.override("zh-hans"):
        page = public.get(reverse("repository:public-record", args=["item", item.pk]))
        assert "部分开放" in page.content.decode()
        row = row_for(Item.objects.get(pk=item.pk))
        assert "部分开放" in [str(c) for c in row]
    assert [c for c, _label in COLUMNS].count("access_status") == 1


def test_a_redaction_note_alone_opens_in_part(ws, archivist_a):
    item = make_item(ws, year=1990, access_status=AccessStatus.UNREVIEWED)
    review = services.decide_opening(
        item,
        OpeningDecision.PARTIAL,
        acting_user=archivist_a,
        reason="r",
        redaction_note="第2页身份证号码已遮盖",
    )
    assert review.redaction_note and review.withheld_pages == []


# --- 3. volume and item agree ----------------------------------------------------------------


def test_a_classified_item_cannot_go_into_a_lower_volume(ws, archivist_a):
    volume = make_volume(ws, access_status=AccessStatus.UNREVIEWED)
    with pytest.raises(ValidationError, match="Classify the volume first"):
        services.create_record(
            "item",
            {
                "fonds": ws.fonds,
                "category": ws,
                "volume": volume,
                "title": "机密件",
                "date": "2019",
                "creator": "某市档案局",
                "retention": "Y",
                "classification": 1,
            },
            acting_user=archivist_a,
        )
    item = services.create_record(
        "item",
        {
            "fonds": ws.fonds,
            "category": ws,
            "volume": volume,
            "title": "件",
            "date": "2019",
            "creator": "某市档案局",
            "retention": "Y",
        },
        acting_user=archivist_a,
    )
    with pytest.raises(ValidationError, match="Classify the volume first"):
        services.update_record(item, {"classification": 1}, acting_user=archivist_a)
    services.update_record(volume, {"classification": 1}, acting_user=archivist_a)
    services.update_record(item, {"classification": 1}, acting_user=archivist_a)
    with pytest.raises(ValidationError, match="declassification"):
        services.update_record(volume, {"classification": 0}, acting_user=archivist_a)


def test_retention_of_a_volume_covers_its_items(ws, archivist_a):
    volume = make_volume(ws, retention="D30")
    with pytest.raises(ValidationError, match="retention"):
        services.create_record(
            "item",
            {
                "fonds": ws.fonds,
                "category": ws,
                "volume": volume,
                "title": "永久件",
                "date": "2019",
                "creator": "某市档案局",
                "retention": "Y",
            },
            acting_user=archivist_a,
        )
    make_item(ws, 8, volume=volume, retention="D30")
    with pytest.raises(ValidationError, match="kept longer"):
        services.update_record(volume, {"retention": "D10"}, acting_user=archivist_a)


def test_an_open_item_in_a_closed_volume_stays_hidden(ws, archivist_a, client_for):
    """On the old code an open item inside a controlled volume was public."""
    volume = make_volume(ws, year=1990, access_status=AccessStatus.UNREVIEWED)
    item = make_item(ws, 1, year=1990, volume=volume, access_status=AccessStatus.UNREVIEWED)
    services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)
    public = client_for(None)
    assert not Item.objects.visible_to(None).filter(pk=item.pk).exists()
    assert public.get(f"/api/v1/items/{item.pk}/").status_code == 404
    docs = {d["pk"]: d for d in iter_documents("item")}
    assert docs[item.pk]["is_public"] is False
    assert build_document(Item.objects.get(pk=item.pk))["is_public"] is False
    services.decide_opening(volume, OpeningDecision.OPEN, acting_user=archivist_a)
    assert public.get(f"/api/v1/items/{item.pk}/").status_code == 200
    assert {d["pk"]: d for d in iter_documents("item")}[item.pk]["is_public"] is True


def test_a_volume_holding_classified_items_cannot_be_opened(ws, archivist_a):
    volume = make_volume(ws, year=1990, access_status=AccessStatus.UNREVIEWED)
    make_item(ws, 1, year=1990, volume=volume, classification=1)  # legacy data, bypassing rules
    with pytest.raises(ValidationError, match="classified items"):
        services.decide_opening(volume, OpeningDecision.OPEN, acting_user=archivist_a)


def test_hidden_from_is_the_exact_complement_with_volumes(ws, personas):
    volume = make_volume(ws, access_status=AccessStatus.OPEN)
    closed = make_volume(ws, 2, access_status=AccessStatus.CONTROLLED)
    for n, (vol, status) in enumerate(
        [(volume, "open"), (closed, "open"), (None, "open"), (volume, "controlled")], start=1
    ):
        make_item(ws, n, volume=vol, access_status=status)
    for user in personas.values():
        seen = set(Item.objects.visible_to(user).values_list("pk", flat=True))
        hidden = set(Item.objects.hidden_from(user).values_list("pk", flat=True))
        assert seen | hidden == set(Item.objects.values_list("pk", flat=True))
        assert not seen & hidden
