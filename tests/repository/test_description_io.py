"""Issue 14, the rest: honest imports, boxes by DA/T 22-2015, printed forms and the staff pages
for them (template download, PDFs, next-code preview, volume type-ahead)."""

import datetime as dt
import io
import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.choices import Classification
from accounts.models import AuditLog
from repository import boxes, codes, imports, printing, schemes
from repository.exports import row_for
from repository.imports import import_catalogue
from repository.models import Item
from tests.pdf import pdf_has_cjk_font
from tests.repository.conftest import make_item, make_volume
from tests.repository.test_imports import as_csv

pytestmark = pytest.mark.django_db

LEGACY_HEADER = ["全宗号", "门类代码", "档号", "题名", "责任者", "文号", "日期", "保管期限", "密级"]
# A legacy catalogue as found: 长期/短期 in words and C/D in codes, blank and 内部 密级, 8-digit,
# bracketed and year-only dates, an 汉字 unit code, a 文号.
LEGACY_ROWS = [
    ["J012", "WS", "J012-WS·1990-C-办公室-0001", "关于建立档案室的通知", "某市某局",
     "某发〔1990〕3号", "19900312", "长期", ""],
    ["J012", "WS", "J012-WS·1990-D-办公室-0002", "一九九〇年工作总结", "某市某局", "",
     "[19901228]", "短期", "内部"],
    ["J012", "WS", "J012-WS·1990-Y-办公室-0003", "建局纪念照片说明", "某市某局", "",
     "19900000", "永久", "非密"],
]  # fmt: skip


@pytest.fixture
def chinese():
    with translation.override("zh-hans"):
        yield


def legacy_csv(rows=LEGACY_ROWS):
    return as_csv(rows, header=LEGACY_HEADER)


def test_legacy_catalogue_round_trips_with_nothing_rewritten(ws, chinese):
    report = import_catalogue(legacy_csv(), "old.csv", acting_user=None, dry_run=True)
    assert report.valid == 3, report.errors
    # The dry run lists what is kept as found for re-appraisal: nothing is mapped silently.
    assert report.reappraisal == [
        (2, "保管期限", "长期"),
        (2, "密级", ""),
        (3, "保管期限", "短期"),
        (3, "密级", "内部"),
    ]
    assert not Item.objects.exists()
    report = import_catalogue(legacy_csv(), "old.csv", acting_user=None, dry_run=False)
    assert report.written == 3
    first, second, third = Item.objects.order_by("reference_code")
    assert (first.retention, first.classification) == ("长期", Classification.NONE)
    assert first.legacy_values == {"retention": "长期", "classification": ""}
    assert first.document_number == "某发〔1990〕3号" and first.org_unit == ""
    assert (second.retention, second.legacy_values["classification"]) == ("短期", "内部")
    assert second.date_inferred and second.date_start == dt.date(1990, 12, 28)
    assert (third.retention, third.legacy_values, third.date_precision) == ("Y", {}, "year")
    # Exported, the same values come back (8-digit dates, 长期 as written).
    exported = row_for(second)
    assert "[19901228]" in exported and "短期" in exported


def test_a_legacy_classification_cannot_be_imported_as_open(ws, chinese):
    rows = [[*LEGACY_ROWS[1][:8], "内部", "开放"]]
    data = as_csv(rows, header=[*LEGACY_HEADER, "开放标识"])
    report = import_catalogue(data, "old.csv", acting_user=None, dry_run=True)
    assert report.valid == 0 and "待重新鉴定" in report.errors[0].reason


def test_duplicates_by_title_date_and_creator_are_listed(ws, chinese):
    make_item(ws, 9, year=1990, title="关于建立档案室的通知", creator="某市某局",
              date_start=dt.date(1990, 3, 12), date_end=dt.date(1990, 3, 12))  # fmt: skip
    rows = [
        LEGACY_ROWS[0],
        [*LEGACY_ROWS[0][:2], "J012-WS·1990-C-办公室-0004", *LEGACY_ROWS[0][3:]],
    ]
    report = import_catalogue(legacy_csv(rows), "old.csv", acting_user=None, dry_run=True)
    assert report.duplicates == [(2, "J012-WS·1990-Y-BGS-0009"), (3, "第 2 行")]


def test_all_or_nothing_dry_run_says_nothing_will_be_written(ws, chinese):
    rows = [LEGACY_ROWS[0], ["J012", "WS", "", "坏日期", "某局", "", "19901332", "永久", ""]]
    report = import_catalogue(
        legacy_csv(rows), "old.csv", acting_user=None, dry_run=True, all_or_nothing=True
    )
    assert "不会写入任何条目" in report.nothing_written_note
    lenient = import_catalogue(legacy_csv(rows), "old.csv", acting_user=None, dry_run=True)
    assert lenient.nothing_written_note == ""


def test_the_import_template_imports_its_own_sample_row(ws, chinese):
    data = imports.template_xlsx("item")
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    assert {"档号", "题名", "责任者", "文件编号", "日期", "保密期限"} <= set(header)
    report = import_catalogue(data, "template.xlsx", acting_user=None, dry_run=True)
    assert report.valid == 1, report.errors


def test_template_download_page(ws, archivist_a, keeper, client_for):
    url = reverse("repository:staff-import-template")
    response = client_for(archivist_a).get(url)
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert client_for(keeper).get(url).status_code == 404


# --- boxes (DA/T 22-2015 §6.4) ---------------------------------------------------------------


@pytest.fixture
def box(ws):
    return boxes.create_box(acting_user=None, code="J012-H-0001", fonds=ws.fonds, capacity=10)


def test_a_box_takes_one_year_retention_and_unit(ws, box):
    a = make_item(ws, 1, year=2019, unit="BGS")
    b = make_item(ws, 2, year=2019, unit="BGS")
    other_year = make_item(ws, 3, year=2020, unit="BGS")
    other_unit = make_item(ws, 4, year=2019, unit="ZCS")
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        boxes.put_in_box([a, b, other_year, other_unit], box, acting_user=None)
    messages = exc.value.message_dict["codes"]
    assert len(messages) == 2 and "DA/T 22-2015" in messages[0]
    assert "2020" in messages[0] and "ZCS" in messages[1]
    boxes.put_in_box([a, b], box, acting_user=None)
    box.refresh_from_db()
    assert (box.year, box.retention, box.org_unit, box.number) == (2019, "Y", "BGS", 1)
    assert boxes.item_range(box) == ("0001", "0002")
    with pytest.raises(ValidationError):  # the box remembers what it holds
        boxes.put_in_box([other_year], box, acting_user=None)


def test_the_rule_is_configurable(ws, box, settings):
    settings.BOX_UNIFORM_ELEMENTS = ("filing_year",)
    boxes.put_in_box(
        [make_item(ws, 1, unit="BGS"), make_item(ws, 2, unit="ZCS")], box, acting_user=None
    )
    assert Item.objects.filter(box=box).count() == 2


def test_box_numbers_follow_per_fonds(ws, box):
    second = boxes.create_box(acting_user=None, code="J012-H-0002", fonds=ws.fonds)
    assert (box.number, second.number) == (1, 2)


# --- printing --------------------------------------------------------------------------------


def _text(pdf: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
    )
    return done.stdout.decode()


def test_every_form_prints_with_chinese_embedded(ws, box, chinese):
    volume = make_volume(ws, 1, creator="某市某局", date_start=dt.date(2019, 1, 1),
                         date_end=dt.date(2019, 12, 31), date_precision="day")  # fmt: skip
    in_volume = make_item(ws, 1, reference_code=f"{volume.reference_code}-001", volume=volume,
                          document_number="某发〔2019〕1号", creator="某市某局")  # fmt: skip
    loose = make_item(ws, 2, creator="<b>某局</b>", date_inferred=True)
    boxes.put_in_box([loose], box, acting_user=None)
    seen = []
    forms = {
        "stamps": printing.stamp_labels([in_volume, loose], progress=lambda d, t: seen.append(d)),
        "item_list": printing.item_list([in_volume, loose]),
        "volume_list": printing.volume_list([volume]),
        "full_index": printing.full_index([volume], lambda v: v.items.all()),
        "volume_contents": printing.volume_contents(volume, [in_volume]),
        "volume_note": printing.volume_note(volume),
        "volume_cover": printing.volume_cover(volume, item_count=1),
        "volume_spine": printing.volume_spine([volume]),
        "box_spine": printing.box_spine([box]),
        "box_note": printing.box_note(box),
    }
    assert seen == [2]
    for name, pdf in forms.items():
        assert pdf.startswith(b"%PDF") and pdf_has_cjk_font(pdf), name
    assert "归档文件目录" in _text(forms["item_list"])
    assert "[20190301]" in _text(forms["item_list"])  # 考证日期 in brackets, 8 digits
    assert "<b>某局</b>" in _text(forms["item_list"])  # markup printed as text
    assert "某发〔2019〕1号" in _text(forms["volume_contents"]).replace("\n", "")
    assert "起件号" in _text(forms["box_spine"]) and "0002" in _text(forms["box_spine"])
    assert "全宗名称" in _text(forms["volume_cover"])


def test_print_pages_go_through_the_record_door(ws, ws_b, archivist_a, outsider, client_for):
    volume = make_volume(ws, 1)
    hidden = make_volume(ws_b, 1)
    client = client_for(archivist_a)
    url = reverse("repository:staff-print", args=["volume_list"])
    response = client.get(url, {"codes": f"{volume.reference_code}\n{hidden.reference_code}"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    assert volume.reference_code in text and hidden.reference_code not in text
    for form in ("contents", "note", "cover"):
        assert (
            client.get(reverse("repository:staff-print-volume", args=[volume.pk, form])).status_code
            == 200
        )
    assert (
        client.get(reverse("repository:staff-print-volume", args=[hidden.pk, "cover"])).status_code
        == 404
    )
    assert client_for(outsider).get(url, {"codes": volume.reference_code}).status_code == 404
    assert client.get(reverse("repository:staff-print", args=["nonsense"])).status_code == 404


def test_code_preview_shows_the_next_codes(ws, archivist_a, client_for):
    make_item(ws, 7, unit="办公室")
    url = reverse("repository:staff-code-preview")
    client = client_for(archivist_a)
    answer = client.get(url, {"fonds": ws.fonds.pk, "category": ws.pk, "unit": "办公室"}).json()
    assert answer["codes"] == [
        "J012-WS·2019-Y-办公室-0008",
        "J012-WS·2019-Y-办公室-0009",
        "J012-WS·2019-Y-办公室-0010",
    ]
    pattern = "{fonds}-{category}·{year}·{retention}·{unit}-{item:4}"
    answer = client.get(url, {"fonds": ws.fonds.pk, "category": ws.pk, "pattern": pattern}).json()
    assert answer["codes"][0] == "J012-WS·2019·Y·BGS-0001"
    bad = client.get(url, {"fonds": ws.fonds.pk, "category": ws.pk, "pattern": "{fonds}{item}"})
    assert bad.status_code == 400 and bad.json()["errors"]


def test_volume_type_ahead_by_code(ws, ws_b, archivist_a, client_for):
    volume = make_volume(ws, 1)
    make_volume(ws_b, 1)
    answer = client_for(archivist_a).get(reverse("repository:staff-volume-lookup"), {"q": "J0"})
    assert [r["code"] for r in answer.json()["results"]] == [volume.reference_code]


# --- fonds, categories and code patterns (repository.schemes and their page) ------------------


def test_fonds_page_updates_description_pattern_and_categories_audited(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    url = reverse("repository:staff-fonds-edit", args=[ws.fonds.pk])
    page = client.get(url)
    assert page.status_code == 200 and "J012-WS·2019-Y-BGS-0001" in page.content.decode()
    response = client.post(
        url,
        {
            "action": "description",
            "name": "市档案局",
            "creating_body": "某市档案局",
            "archive_code": "A123",
            "start_year": "1950",
            "end_year": "2020",
            "custodial_history": "1990年移交进馆",
        },
    )
    assert response.status_code == 302
    ws.fonds.refresh_from_db()
    assert (ws.fonds.archive_code, ws.fonds.start_year) == ("A123", 1950)
    pattern = "{fonds}-{category}·{year}·{retention}·{unit}-{item:4}"
    response = client.post(url, {"action": "pattern", "item": pattern})
    assert response.status_code == 302
    ws.fonds.refresh_from_db()
    assert ws.fonds.code_pattern == {"item": pattern}
    bad = client.post(url, {"action": "pattern", "item": "{fonds}{item}"})
    assert bad.status_code == 200 and ws.fonds.code_pattern == {"item": pattern}
    response = client.post(
        url, {"action": "category", "code": "JC", "name": "基建", "parent": ws.pk}
    )
    assert response.status_code == 302
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {
        "repository.fonds.updated",
        "repository.fonds.code_pattern_changed",
        "repository.category.created",
    } <= actions


def test_sub_category_codes_join_with_a_dot(ws):
    jc = schemes.create_category(ws.fonds, acting_user=None, code="JC", name="基建", parent=ws)
    cc = schemes.create_category(ws.fonds, acting_user=None, code="CC", name="厂房", parent=jc)
    assert codes.category_path(cc) == "WS·JC·CC"
    make_item(ws, 1)
    with pytest.raises(ValidationError):  # its records' codes carry the category code
        schemes.update_category(ws, {"code": "WX"}, acting_user=None)


def test_fonds_page_is_only_for_those_who_may_change_the_fonds(
    ws, fonds_b, archivist_a, client_for
):
    client = client_for(archivist_a)
    assert client.get(reverse("repository:staff-fonds-edit", args=[fonds_b.pk])).status_code == 404
    listing = client.get(reverse("repository:staff-fonds")).content.decode()
    assert "J012" in listing and "J099" not in listing


def test_new_item_form_labels_categories_with_their_fonds_and_takes_a_volume_code(
    ws, ws_b, archivist_a, client_for
):
    volume = make_volume(ws, 1)
    client = client_for(archivist_a)
    url = reverse("repository:staff-record-new", args=["item"])
    page = client.get(url).content.decode()
    assert "J012 市档案局 · WS 文书" in page and 'data-fonds="' in page
    assert 'aria-required="true"' in page
    data = {
        "fonds": ws.fonds.pk,
        "category": ws.pk,
        "volume": volume.reference_code,
        "title": "卷内文件",
        "creator": "某局",
        "date": "[20190301]",
        "retention": "Y",
        "classification": 0,
        "access_status": "unreviewed",
        "carrier": "paper",
        "filing_year": "2019",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    item = Item.objects.get(volume=volume)
    assert item.reference_code == f"{volume.reference_code}-001" and item.date_inferred
    edit = client.get(reverse("repository:staff-record-edit", args=["item", item.pk]))
    assert "[20190301]" in edit.content.decode()  # the 考证 flag survives an edit
    bad = client.post(url, {**data, "volume": "J012-WS·2019-Y-9999"})
    assert (
        bad.status_code == 200
        and not Item.objects.filter(title="卷内文件").exclude(pk=item.pk).exists()
    )
