"""Output by context, through every door that writes a file.

A title, a room name, a fonds code, a sensor id or a device's alarm message holding a formula
(``=HYPERLINK(…)``, ``+1+1``, ``@SUM(1)``, a tab then ``=``), a control character or reportlab
markup (``<img src=…>``, ``<a href=…>``, ``<font>``) must come out of every CSV, XLSX and PDF as
text: no live formula cell (the files are parsed back), never a 500, the markup printed literally
in the PDF (pdftotext) and no image embedded. See ``core.output``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from borrowing import services as borrowing
from borrowing.models import UsePurpose
from devices.models import Sensor
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, Position, ShelvingUnit, StoreRoom
from storage_env import services as climate
from storage_env.choices import AlarmRule
from storage_env.models import ClimatePolicy, Reading
from tests.gates import missing
from tests.repository.import_helpers import run_queued_job

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("http://evil.example/","click")',
    "+1+1",
    "@SUM(1)",
    "\t=1",
    "=cmd|' /C calc'!A0",
    "-2+3",
]
CONTROL = "bell\x07here"
MARKUP = ['<img src="/etc/passwd"/>', '<a href="http://evil.example/">x</a>', "<font color=red>"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- reading the files back ------------------------------------------------------------------


def _live(value) -> bool:
    """A cell a spreadsheet would evaluate as a formula."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not PLAIN_NUMBER.fullmatch(value)
    )


def csv_cells(response) -> list[str]:
    assert response.status_code == 200
    raw = (b"".join(response.streaming_content) if response.streaming else response.content).decode(
        "utf-8-sig"
    )
    cells = [cell for row in csv.reader(io.StringIO(raw, newline="")) for cell in row]
    assert not [c for c in cells if _live(c)], "live formula in the CSV"
    return cells


def xlsx_cells(content: bytes) -> list:
    book = load_workbook(io.BytesIO(content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "formula cell in the XLSX"
    values = [c.value for c in cells]
    assert not [v for v in values if _live(v)], "formula-like text in the XLSX"
    return values


def xlsx_response_cells(response) -> list:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    return xlsx_cells(response.getvalue())  # streamed (core/streaming.py)


def pdf_text(content: bytes) -> str:
    """The PDF's text (pdftotext, in content order) with all whitespace removed."""
    if not shutil.which("pdftotext"):
        missing("pdftotext (Debian's poppler-utils) is not installed")
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return re.sub(r"\s+", "", out)


def assert_pdf_prints(response, values: list[str]) -> None:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    content = response.content
    assert b"/Subtype /Image" not in content, "an image was embedded"
    text = pdf_text(content)
    for value in values:
        assert re.sub(r"\s+", "", value) in text, f"{value!r} not printed as written"


@pytest.fixture
def png_on_server(tmp_path) -> str:
    """A real image file on the server: markup naming it would embed it in a PDF."""
    path = tmp_path / "secret.png"
    Image.new("RGB", (8, 8), "red").save(path)
    return str(path)


# --- a catalogue full of hostile values -----------------------------------------------------


@pytest.fixture
def fonds(db):
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    for role in (Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR):
        grant("repository.view_fonds_records", role_group(role), fonds)
    grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), fonds)
    return fonds


@pytest.fixture
def category(fonds):
    return Category.objects.create(fonds=fonds, code="WS", name="文书")


def make_item(category, n: int, title: str, **extra) -> Item:
    defaults = dict(
        fonds=category.fonds,
        category=category,
        reference_code=f"J012-WS·2019-Y-BGS-{n:04d}",
        title=title,
        access_status=AccessStatus.OPEN,
        classification=Classification.NONE,
    )
    defaults.update(extra)
    return Item.objects.create(**defaults)


@pytest.fixture
def hostile_items(category):
    """Open records (the public sees them) with a formula in every text column, and one with a
    control character in its title."""
    items = [
        make_item(category, n, value, creator=value, keywords=value, notes=value, org_unit="BGS")
        for n, value in enumerate(FORMULAS, start=1)
    ]
    items.append(make_item(category, 99, CONTROL))
    return items


# --- catalogue exports: public (anonymous) and staff, CSV and XLSX ---------------------------

EXPORT_DOORS = [
    ("public", "repository:public-export", "csv"),
    ("public", "repository:public-export", "xlsx"),
    ("staff", "repository:staff-export", "csv"),
    ("staff", "repository:staff-export", "xlsx"),
]


@pytest.mark.parametrize(("who", "url_name", "fmt"), EXPORT_DOORS)
def test_catalogue_export_has_no_live_formula(
    who, url_name, fmt, hostile_items, archivist_a, client_for
):
    client = client_for(archivist_a if who == "staff" else None)
    response = client.get(reverse(url_name, args=[fmt]), {"kind": "item"})
    if fmt == "csv":
        cells = csv_cells(response)
        assert CONTROL in cells  # a CSV holds any character
    else:
        cells = xlsx_response_cells(response)
        assert "bell\ufffdhere" in cells  # the control character replaced, not a 500
    for value in FORMULAS:
        assert "'" + value in cells, value  # the text kept, behind an apostrophe


def test_one_control_character_does_not_break_the_xlsx_export(category, archivist_a, client_for):
    make_item(category, 1, "正常题名")
    make_item(category, 2, "题名\x01\x08\x1f\x0b末")
    doors = [(archivist_a, "repository:staff-export"), (None, "repository:public-export")]
    for user, name in doors:
        response = client_for(user).get(reverse(name, args=["xlsx"]), {"kind": "item"})
        cells = xlsx_response_cells(response)
        assert "题名\ufffd\ufffd\ufffd\ufffd末" in cells and "正常题名" in cells


# --- import: the rejected-rows files (page and command) --------------------------------------

IMPORT_HEADER = [
    "全宗号",
    "门类代码",
    "题名",
    "保管期限",
    "开放标识",
    "机构（问题）",
    "日期",
    "责任者",
]
IMPORT_HEADER.append('=HYPERLINK("http://evil")')  # a column the import does not know


def rejected_upload(fonds_code: str = "NOPE") -> bytes:
    """Rows an import rejects (no such fonds) whose cells hold formulas and a control char."""
    fixed = [fonds_code, "WS"]
    rows = [
        [*fixed, value, "Y", "unreviewed", "BGS", "2019-04", "某局", value] for value in FORMULAS
    ]
    rows.append([*fixed, CONTROL, "Y", "unreviewed", "BGS", "2019-04", "某局", "+1+1"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(IMPORT_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _import_token(client, settings, tmp_path) -> str:
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("list.csv", rejected_upload(), "text/csv")
    response = client.post(
        reverse("repository:staff-import"), {"file": upload, "kind": "item", "encoding": ""}
    )
    response = run_queued_job(client, response)  # the import runs in the background
    assert response.status_code == 200
    return response.context["token"]


def test_import_rejected_rows_csv_has_no_live_formula(
    category, archivist_a, client_for, settings, tmp_path
):
    client = client_for(archivist_a)
    token = _import_token(client, settings, tmp_path)
    cells = csv_cells(client.get(reverse("repository:staff-import-rejected", args=[token])))
    assert "'" + IMPORT_HEADER[-1] in cells  # the file's own header row too
    for value in FORMULAS:
        assert "'" + value.strip() in cells or "'" + value in cells, value


def test_import_rejected_rows_xlsx_has_no_formula_and_no_500(
    category, archivist_a, client_for, settings, tmp_path
):
    client = client_for(archivist_a)
    token = _import_token(client, settings, tmp_path)
    url = reverse("repository:staff-import-rejected", args=[token])
    cells = xlsx_response_cells(client.get(url, {"format": "xlsx"}))
    assert "bell\ufffdhere" in cells and "'" + IMPORT_HEADER[-1] in cells
    assert "'" + FORMULAS[0] in cells


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_import_command_rejected_file_has_no_live_formula(category, tmp_path, suffix):
    source = tmp_path / "list.csv"
    source.write_bytes(rejected_upload())
    rejected = tmp_path / f"rejected.{suffix}"
    call_command("import_catalogue", str(source), "--rejected", str(rejected), stdout=io.StringIO())
    if suffix == "xlsx":
        cells = xlsx_cells(rejected.read_bytes())
        assert "bell\ufffdhere" in cells
    else:
        text = rejected.read_bytes().decode("utf-8-sig")
        cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
        assert not [c for c in cells if _live(c)]
    assert "'" + FORMULAS[0] in cells


def test_rejected_file_fixed_and_imported_again_keeps_the_titles(
    category, archivist_a, client_for, settings, tmp_path
):
    """The apostrophe the rejected file adds is taken off on import: fix the fonds column of
    the rejected rows, import them again, and the titles are the ones first sent (a guard for
    ``core.output.spreadsheet_value``, not a security failure of the old code)."""
    client = client_for(archivist_a)
    token = _import_token(client, settings, tmp_path)
    text = client.get(reverse("repository:staff-import-rejected", args=[token])).content
    fixed = text.decode("utf-8-sig").replace("NOPE", "J012").encode("utf-8")
    upload = SimpleUploadedFile("fixed.csv", fixed, "text/csv")
    response = client.post(
        reverse("repository:staff-import"), {"file": upload, "kind": "item", "encoding": ""}
    )
    response = run_queued_job(client, response)
    report = response.context["report"]
    assert not report.errors, [(e.row, e.column, e.reason) for e in report.errors]
    response = client.post(
        reverse("repository:staff-import"), {"token": response.context["token"], "commit": "1"}
    )
    response = run_queued_job(client, response)
    assert response.status_code == 200
    titles = set(Item.objects.values_list("title", flat=True))
    assert {v.strip() for v in FORMULAS} | {CONTROL} == titles


# --- borrowing: usage statistics CSV ---------------------------------------------------------


@pytest.fixture
def researcher_request(category, researcher):
    item = make_item(category, 1, "关于档案安全检查的通知")
    today = timezone.localdate()
    return borrowing.create_access_request(
        acting_user=researcher,
        records=[item],
        purpose="research",
        date_from=today,
        date_to=today + dt.timedelta(days=7),
        id_document_type="resident_id",
        id_number="110101199001061234",
        id_document_expires=dt.date(2040, 1, 1),
    )


def test_usage_statistics_csv_has_no_live_formula(
    fonds, researcher_request, front_desk, client_for
):
    Fonds.objects.filter(pk=fonds.pk).update(code="=cmd|'/C calc'!A0")  # 20 characters at most
    UsePurpose.objects.filter(pk=researcher_request.purpose_id).update(name="+1+1")
    borrowing.approve_access_request(researcher_request, acting_user=front_desk)
    borrowing.retrieve_access_request(researcher_request, acting_user=front_desk)
    borrowing.check_out_access_request(
        researcher_request, acting_user=front_desk, identity_seen="居民身份证"
    )
    year = researcher_request.submitted_at.year
    response = client_for(front_desk).get(
        reverse("borrowing:statistics"), {"year": year, "format": "csv"}
    )
    cells = csv_cells(response)
    assert "'=cmd|'/C calc'!A0" in cells and "'+1+1" in cells


# --- store-room climate: the readings CSV ---------------------------------------------------


@pytest.fixture
def climate_room(db):
    room = StoreRoom.objects.create(code="K01", name="一号库房")
    ClimatePolicy.objects.create(room=room)
    return room


def test_room_readings_csv_has_no_live_formula(climate_room, keeper, client_for):
    # The registry refuses such an id (devices.models.SENSOR_ID_PATTERN); the export does not
    # rely on it.
    for n, value in enumerate(['=HYPERLINK("http://evil")', "@SUM(1)", "+1+1"]):
        sensor = Sensor.objects.create(sensor_id=value, room=climate_room)
        Reading.objects.create(
            sensor=sensor,
            room=climate_room,
            ts=timezone.now() - dt.timedelta(minutes=n + 1),
            temperature=-3.5,
            humidity=50,
        )
    response = client_for(keeper).get(
        reverse("storage_env:room-export", args=[climate_room.pk]), {"range": "day"}
    )
    cells = csv_cells(response)
    assert "'@SUM(1)" in cells and "-3.5" in cells  # a negative number stays a number


# --- PDFs ------------------------------------------------------------------------------------


@pytest.fixture
def markup_items(category, png_on_server):
    titles = [*MARKUP, f'<img src="{png_on_server}" width="40" height="40"/>']
    return [make_item(category, n, title) for n, title in enumerate(titles, start=1)]


def _request_for(researcher, items):
    today = timezone.localdate()
    return borrowing.create_access_request(
        acting_user=researcher,
        records=items,
        purpose="research",
        date_from=today,
        date_to=today + dt.timedelta(days=7),
        id_document_type="resident_id",
        id_number="110101199001061234",
        id_document_expires=dt.date(2040, 1, 1),
    )


def test_borrowing_slip_prints_markup_as_text(markup_items, researcher, front_desk, client_for):
    req = _request_for(researcher, markup_items)
    borrowing.approve_access_request(req, acting_user=front_desk)  # printed once approved
    response = client_for(front_desk).get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
    assert_pdf_prints(response, [i.title for i in markup_items])


def test_certificate_prints_markup_as_text(markup_items, researcher, front_desk, client_for):
    today = timezone.localdate()
    req = borrowing.create_access_request(
        acting_user=researcher,
        lines=[{"record": markup_items[0], "method": "certificate"}],
        purpose="evidence",
        date_from=today,
        id_document_type="resident_id",
        id_number="110101199001061234",
        id_document_expires=dt.date(2040, 1, 1),
    )
    borrowing.approve_access_request(req, acting_user=front_desk)
    line = req.lines.get()
    content = '<font color=red>兹证明</font><a href="http://evil.example/">x</a>'
    borrowing.serve_line(line, acting_user=front_desk, content=content, identity_seen="居民身份证")
    response = client_for(front_desk).get(f"/staff/borrowing/lines/{line.pk}/certificate.pdf")
    assert_pdf_prints(response, [markup_items[0].title, content])


def test_return_receipt_prints_markup_as_text(category, researcher, front_desk, client_for):
    items = [
        make_item(category, n, "通知", reference_code=code)
        for n, code in enumerate(["<font color=red>J1", '<a href="http://evil.example/">J2</a>'])
    ]
    req = _request_for(researcher, items)
    borrowing.approve_access_request(req, acting_user=front_desk)
    borrowing.retrieve_access_request(req, acting_user=front_desk)
    borrowing.check_out_access_request(req, acting_user=front_desk, identity_seen="居民身份证")
    for loan in req.loans.all():
        borrowing.return_loan(loan, acting_user=front_desk, counted=1)
    response = client_for(front_desk).get(f"/staff/borrowing/requests/{req.pk}/receipt.pdf")
    assert_pdf_prints(response, [i.reference_code for i in items])


def test_retrieval_list_prints_markup_as_text(
    category, markup_items, researcher, front_desk, keeper, client_for
):
    room = StoreRoom.objects.create(code="K09", name="<font color=red>")
    unit = ShelvingUnit.objects.create(room=room, code="01", columns=1, sections=1, layers=1)
    position = Position.objects.create(
        room=room,
        unit=unit,
        column=1,
        section=1,
        layer=1,
        code=Position.make_code("K09", "01", "A", 1, 1, 1),
        path=Position.make_path("K09", "01", "A", 1, 1, 1),
    )
    Item.objects.filter(pk=markup_items[0].pk).update(position=position)
    req = _request_for(researcher, markup_items)
    borrowing.approve_access_request(req, acting_user=front_desk)
    response = client_for(keeper).get(reverse("borrowing:retrieval"), {"format": "pdf"})
    assert_pdf_prints(response, [i.title for i in markup_items] + ["K09 <font color=red>"])


def test_labels_print_markup_as_text(markup_items, archivist_a, client_for):
    client = client_for(archivist_a)
    codes = "\n".join(i.reference_code for i in markup_items)
    for size in ("a4", "thermal"):
        response = client.post(reverse("repository:staff-labels"), {"codes": codes, "size": size})
        assert_pdf_prints(response, [i.title[:12] for i in markup_items])
    api = client.post(
        "/api/v1/labels/",
        {"codes": [i.reference_code for i in markup_items], "size": "a4"},
        content_type="application/json",
    )
    assert_pdf_prints(api, [i.title[:12] for i in markup_items])


def test_monthly_climate_report_prints_markup_as_text(keeper, client_for, png_on_server):
    room = StoreRoom.objects.create(code="K02", name='<a href="http://evil.example/">x</a>')
    ClimatePolicy.objects.create(room=room)
    sensor = Sensor.objects.create(sensor_id="TH-02", room=room)
    messages = [*MARKUP, f'<img src="{png_on_server}"/>', "<b>unclosed"]
    for n, message in enumerate(messages):
        climate.raise_alarm(
            AlarmRule.HUMIDITY_HIGH,
            f"sensor:TH-02:{n}",
            message=message,
            room_id=room.pk,
            sensor_id=sensor.pk,
            value=66,
        )
    response = client_for(keeper).get(
        reverse("storage_env:room-report", args=[room.pk]),
        {"month": f"{timezone.localdate():%Y-%m}"},
    )
    assert_pdf_prints(response, [room.name, *messages])
