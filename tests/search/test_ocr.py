"""Scanned pages become searchable (issue 16): Tesseract reads each digitised page
(``search.ocr``), the released pages' text joins its record's document, a hit names the page.
Visibility: the public finds page text of open records only, and nobody finds the words of a
withheld page (opened in part) through any door: results, totals, facets, snippets,
suggestions, the API. Runs on every backend; the reading needs Debian's ``tesseract-ocr`` and
``tesseract-ocr-chi-sim`` (skipped locally without them, required in CI)."""

from __future__ import annotations

import io
import shutil

import pytest
from django.test import Client
from PIL import Image, ImageDraw, ImageFont

from accounts.audit import AuditLog
from accounts.choices import Role
from accounts.permissions import grant, role_group
from core.errors import NotAllowed
from core.fonts import cjk_font_files
from repository import images
from repository.choices import AccessStatus
from repository.models import DigitalPage
from search import ocr
from search.models import OutboxEntry, PageText
from search.query import SearchRequest, Visibility
from search.services import search_records, suggest_records
from tests.gates import missing
from tests.search.conftest import sync

TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def test_tesseract_tsv_becomes_lines_and_a_confidence():
    rows = [
        TSV_HEADER,
        "1\t1\t0\t0\t0\t0\t0\t0\t900\t220\t-1\t",
        "5\t1\t1\t1\t1\t1\t40\t40\t90\t48\t90\t仓库",
        "5\t1\t1\t1\t1\t2\t130\t40\t48\t48\t60\t温",
        "5\t1\t1\t1\t1\t3\t180\t40\t90\t48\t90\tNo.",
        "5\t1\t1\t1\t1\t4\t280\t40\t90\t48\t80\t12",
        "5\t1\t1\t1\t2\t1\t40\t120\t90\t48\t100\t防汛",
    ]
    reading = ocr.parse_tsv("\n".join(rows))
    assert reading.text == "仓库温 No. 12\n防汛"
    assert reading.confidence == 84.0


def _need_tesseract() -> None:
    if not ocr.status()["ok"]:
        missing("tesseract with chi_sim is not installed (scripts/ensure_test_packages.sh)")
    if not cjk_font_files():
        missing("no CJK font to draw the test scan (fonts-wqy-zenhei)")


def scan(*lines: str) -> bytes:
    """A clean 'scan' of Chinese text, drawn with an installed CJK font."""
    font = ImageFont.truetype(str(cjk_font_files()[0]), 48)
    image = Image.new("RGB", (1000, 100 + 90 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((40, 40 + 90 * n), line, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def pages(settings, tmp_path, indexed, backend, admin_user):
    """Three pages of the open record 借阅制度修订: page 2 withheld (opened in part)."""
    _need_tesseract()
    settings.MEDIA_ROOT = tmp_path
    record = indexed["loan"]
    added = [
        images.add_digital_page(record, scan("仓库温湿度巡查记录"), acting_user=admin_user),
        images.add_digital_page(record, scan("秘密补充说明", "不得公开"), acting_user=admin_user),
        images.add_digital_page(record, scan("第三次防汛物资清点"), acting_user=admin_user),
    ]
    added[1].withheld = True
    added[1].save(update_fields=["withheld"])
    assert PageText.objects.filter(status=PageText.Status.PENDING).count() == 3
    result = ocr.ocr_once(batch=10)
    assert (result.read, result.failed) == (3, 0)
    sync(backend)
    return record, added


def test_a_phrase_from_a_page_finds_the_record_and_names_the_page(backend, pages):
    record, added = pages
    text = PageText.objects.get(page=added[0])
    assert "温湿度" in text.text and text.confidence and text.confidence > 50
    result = search_records(None, SearchRequest(query="温湿度巡查"))
    assert [h.doc["reference_code"] for h in result.hits] == [record.reference_code]
    match = result.hits[0].page
    assert match.number == 1 and match.page_id == added[0].pk
    assert "<mark>" in match.snippet
    third = search_records(None, SearchRequest(query="第3次防汛")).hits[0].page
    assert third.number == 3  # 第三次 on the scan, 第3次 typed


def test_withheld_page_words_are_found_by_no_door(backend, pages, admin_user):
    record, added = pages
    for user in (None, admin_user):
        result = search_records(user, SearchRequest(query="秘密补充说明", facets=("fonds",)))
        assert result.hits == [] and result.total == 0 and result.facets["fonds"] == []
        assert suggest_records(user, "秘密补充") == []
    body = Client().get("/api/v1/search/", {"q": "不得公开"}).json()
    assert body["results"] == [] and body["total"] == 0
    page = Client().get("/search/", {"q": "秘密补充说明"}).content.decode()
    assert 'class="search-hit"' not in page and "不得公开" not in page
    # the record itself is found by its other pages, never with the withheld page's words
    hit = search_records(None, SearchRequest(query="温湿度")).hits[0]
    assert "秘密" not in hit.page.snippet and hit.page.number == 1


def test_page_text_of_a_closed_record_is_not_public(backend, pages):
    record, _ = pages
    record.access_status = AccessStatus.CONTROLLED
    record.version += 1
    record.save()
    from search.outbox import enqueue

    enqueue(record)
    assert search_records(None, SearchRequest(query="温湿度巡查")).hits == []  # at once
    sync(backend)
    assert search_records(None, SearchRequest(query="温湿度巡查")).hits == []
    body = Client().get("/api/v1/search/", {"q": "温湿度巡查"}).json()
    assert body["total"] == 0


def test_the_api_gives_the_page_number_and_its_link(backend, pages):
    _, added = pages
    body = Client().get("/api/v1/search/", {"q": "温湿度巡查"}).json()
    page = body["results"][0]["page"]
    assert page["number"] == 1 and page["id"] == added[0].pk
    assert page["url"].endswith(f"/catalogue/pages/{added[0].pk}/web.jpg")
    assert Client().get(page["url"]).status_code == 200  # the page opens (watermarked)


def test_staff_correction_is_audited_and_reindexed(backend, pages, admin_user, archivist_a):
    record, added = pages
    with pytest.raises(NotAllowed):  # archivist_a has no change permission on this fonds
        ocr.correct_page_text(added[0], "篡改", acting_user=archivist_a)
    grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), record.fonds)
    archivist_a = type(archivist_a).objects.get(pk=archivist_a.pk)  # permissions read afresh
    ocr.correct_page_text(added[0], "库房温湿度巡检记录 校正", acting_user=archivist_a)
    row = AuditLog.objects.filter(action="search.page_text.corrected").get()
    assert row.actor == archivist_a and "温湿度巡查" in row.before["text"]
    sync(backend)  # the record's version did not change: the document is rewritten anyway
    assert search_records(None, SearchRequest(query="温湿度巡检")).hits[0].page.number == 1
    old = search_records(None, SearchRequest(query="巡查记录")).hits  # the old reading
    assert record.reference_code not in [h.doc["reference_code"] for h in old]
    ocr.queue_page(added[0])  # read again (a page replaced): the correction is kept
    entry = PageText.objects.get(page=added[0])
    assert entry.status == PageText.Status.PENDING


def test_an_unreadable_image_is_recorded_never_a_crash(backend, indexed, settings, tmp_path):
    _need_tesseract()
    settings.MEDIA_ROOT = tmp_path
    page = images.add_digital_page(indexed["loan"], scan("可读的页"), acting_user=None)
    with open(page.original.path, "wb") as broken:  # the stored scan got damaged
        broken.write(b"\x89PNG\r\n\x1a\n not an image at all")
    good = images.add_digital_page(indexed["loan"], scan("另一页仓库"), acting_user=None)
    result = ocr.ocr_once(batch=10)
    assert (result.read, result.failed) == (1, 1)
    bad = PageText.objects.get(page=page)
    assert bad.status == PageText.Status.FAILED and bad.error
    assert PageText.objects.get(page=good).status == PageText.Status.DONE


def test_healthz_says_when_tesseract_is_missing(db, settings):
    settings.TESSERACT_CMD = "/nonexistent/tesseract"
    health = ocr.status()
    assert health["ok"] is False and "tesseract not found" in health["error"]
    body = Client().get("/healthz").json()
    assert body["checks"]["ocr"]["ok"] is False


def test_without_tesseract_a_page_waits_with_the_reason(indexed, settings, tmp_path):
    if not cjk_font_files():
        missing("no CJK font to draw the test scan (fonts-wqy-zenhei)")
    settings.MEDIA_ROOT = tmp_path
    settings.TESSERACT_CMD = "/nonexistent/tesseract"
    page = images.add_digital_page(indexed["loan"], scan("等待"), acting_user=None)
    assert ocr.ocr_once().failed == 1
    entry = PageText.objects.get(page=page)
    assert entry.status == PageText.Status.PENDING and "not found" in entry.error
    assert shutil.which("/nonexistent/tesseract") is None


def test_page_text_door_for_staff(backend, pages, archivist_a, researcher):
    record, added = pages
    url = f"/api/v1/search/pages/{added[0].pk}/text/"
    assert Client().get(url).status_code in (401, 403)  # anonymous
    reader = Client()
    reader.force_login(researcher)
    assert reader.get(url).status_code == 404  # not staff of the fonds: no page text
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), record.fonds)
    staff = Client()
    staff.force_login(archivist_a)
    body = staff.get(url).json()
    assert body["page_number"] == 1 and "温湿度" in body["text"] and body["status"] == "done"
    refused = staff.put(url, {"text": "改写"}, content_type="application/json")
    assert refused.status_code == 403  # may view, may not change
    grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), record.fonds)
    done = staff.put(url, {"text": "库房巡检"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["corrected"] is True
    too_long = staff.put(url, {"text": "字" * (ocr.MAX_TEXT + 1)}, content_type="application/json")
    assert too_long.status_code == 400


# --- the page text follows the page ----------------------------------------------------------
def test_a_deleted_page_takes_its_words_out_of_search_at_once(backend, pages, admin_user):
    record, added = pages
    assert search_records(None, SearchRequest(query="防汛物资")).hits  # page 3
    OutboxEntry.objects.all().delete()
    images.delete_digital_page(added[2], acting_user=admin_user)
    assert not PageText.objects.filter(page_id=added[2].pk).exists()
    assert AuditLog.objects.filter(action="repository.item.page_deleted").count() == 1
    row = OutboxEntry.objects.get()
    assert (row.object_id, row.force, row.narrows) == (record.pk, True, True)
    # before the sync: the record (open, found by other words) no longer matches the phrase
    assert search_records(None, SearchRequest(query="第三次防汛物资清点")).hits == []
    sync(backend)
    for user in (None, admin_user):
        result = search_records(user, SearchRequest(query="第三次防汛物资清点", facets=("fonds",)))
        assert result.hits == [] and result.total == 0 and result.facets["fonds"] == []
    assert search_records(None, SearchRequest(query="温湿度巡查")).hits[0].page.number == 1


def test_a_replaced_page_is_read_again_and_the_old_words_go(backend, pages, admin_user):
    record, added = pages
    ocr.correct_page_text(added[0], "仓库温湿度巡查记录 校正", acting_user=admin_user)
    sync(backend)
    images.replace_digital_page(added[0], scan("档案整理工作日志"), acting_user=admin_user)
    entry = PageText.objects.get(page=added[0])
    assert entry.status == PageText.Status.PENDING and entry.text == ""
    assert entry.corrected_at is None  # the correction was of the old scan
    assert OutboxEntry.objects.get().narrows
    sync(backend)  # the old reading leaves the index before the new one is read
    assert search_records(admin_user, SearchRequest(query="温湿度巡查")).hits == []
    assert ocr.ocr_once(batch=10).read == 1
    sync(backend)
    hit = search_records(None, SearchRequest(query="整理工作日志")).hits[0]
    assert hit.doc["reference_code"] == record.reference_code and hit.page.number == 1
    assert AuditLog.objects.filter(action="repository.item.page_replaced").count() == 1


def test_a_replaced_withheld_page_stays_unsearchable(backend, pages, admin_user):
    record, added = pages
    images.replace_digital_page(added[1], scan("新的秘密附件", "不得外传"), acting_user=admin_user)
    assert ocr.ocr_once(batch=10).read == 1
    sync(backend)
    assert "秘密附件" in PageText.objects.get(page=added[1]).text
    assert DigitalPage.objects.get(pk=added[1].pk).withheld
    for user in (None, admin_user):
        result = search_records(user, SearchRequest(query="秘密附件", facets=("fonds",)))
        assert result.hits == [] and result.total == 0 and result.facets["fonds"] == []
        assert suggest_records(user, "秘密附件") == []
    assert Client().get("/api/v1/search/", {"q": "不得外传"}).json()["total"] == 0


def test_withholding_a_page_is_a_narrowing_change(backend, pages, admin_user):
    from repository import services
    from repository.choices import OpeningDecision

    record, added = pages
    OutboxEntry.objects.all().delete()
    services.decide_opening(
        record,
        OpeningDecision.PARTIAL,
        acting_user=admin_user,
        reason="第3页涉及隐私",
        withheld_pages=[2, 3],
    )
    row = OutboxEntry.objects.get()
    assert row.narrows and row.force  # page 3 was released, now withheld
    everyone = Visibility(public_only=False, fonds_ids=None, clearance=3)
    assert backend.search(SearchRequest(query="防汛物资"), everyone).hits  # the index is behind
    assert search_records(None, SearchRequest(query="防汛物资")).hits == []  # ... hidden at once
    assert search_records(admin_user, SearchRequest(query="防汛物资")).hits == []
    sync(backend)
    assert search_records(None, SearchRequest(query="防汛物资")).hits == []


def test_a_reading_of_a_replaced_scan_is_thrown_away(backend, pages, admin_user, monkeypatch):
    """The worker read the old scan while staff replaced it: the old reading is not stored."""
    record, added = pages
    images.replace_digital_page(added[0], scan("档案整理工作日志"), acting_user=admin_user)
    real = ocr.read_image

    def replaced_meanwhile(path):
        reading = real(path)
        images.replace_digital_page(added[0], scan("第二次扫描"), acting_user=admin_user)
        return reading

    monkeypatch.setattr(ocr, "read_image", replaced_meanwhile)
    assert ocr.ocr_once(batch=10).read == 0
    entry = PageText.objects.get(page=added[0])
    assert entry.status == PageText.Status.PENDING and entry.text == ""
