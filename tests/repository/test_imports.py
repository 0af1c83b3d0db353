"""Catalogue import: encodings, column mapping, dry run, atomic commit, rejected rows."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from openpyxl import Workbook, load_workbook

from accounts.models import AuditLog
from repository.imports import ImportFileError, import_catalogue, rejected_csv, rejected_xlsx
from repository.models import Item, Position
from search.models import OutboxEntry
from tests.repository.conftest import make_item
from tests.repository.import_helpers import run_queued_job

pytestmark = pytest.mark.django_db

HEADER = [
    "全宗号",
    "门类代码",
    "档号",
    "题名",
    "日期",
    "保管期限",
    "开放标识",
    "机构（问题）",
    "归档年度",
    "责任者",  # DA/T 18-2022: 必著 at every level
]
CREATOR = "某市档案局"
GOOD = [
    [
        "J012",
        "WS",
        "J012-WS·2019-Y-BGS-0001",
        "关于开展档案安全检查的通知",
        "2019-03-05",
        "永久",
        "未审核",
        "BGS",
        "2019",
    ],
    ["J012", "WS", "", "关于印发工作要点的通知", "2019-04", "永久", "控制使用", "BGS", "2019"],
]
BAD = [
    [
        "J012",
        "WS",
        "J012-WS·2019-Y-BGS-0003",
        "日期错误的文件",
        "2019-13-01",
        "永久",
        "未审核",
        "BGS",
        "2019",
    ],
    [
        "J012",
        "WS",
        "J012-WS·2019-Y-BGS-0001",
        "重复档号",
        "2019-03-05",
        "永久",
        "未审核",
        "BGS",
        "2019",
    ],
    ["J012", "WS", "J012-WS·2019-Y-BGS-0004", "", "2019-03-05", "永久", "未审核", "BGS", "2019"],
    ["J012", "XX", "", "门类不存在", "2019", "永久", "未审核", "BGS", "2019"],
    [
        "J012",
        "WS",
        "J012-WS-2019-Y-BGS-0005",
        "分隔符错误",
        "2019",
        "永久",
        "未审核",
        "BGS",
        "2019",
    ],
]


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def with_creator(rows, header):
    """Rows written without a 责任者 get one where the header has the column."""
    if "责任者" not in header:
        return rows
    width = len(header)
    return [row + [CREATOR] if len(row) == width - 1 else row for row in rows]


def as_csv(rows, encoding="utf-8", header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(with_creator(rows, header))
    return out.getvalue().encode(encoding)


def as_xlsx(rows, header=HEADER):
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in with_creator(rows, header):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(ws, encoding):
    report = import_catalogue(as_csv(GOOD, encoding), "list.csv", acting_user=None, dry_run=False)
    assert (report.total, report.valid, report.written) == (2, 2, 2)
    assert (
        Item.objects.get(title="关于印发工作要点的通知").reference_code == "J012-WS·2019-Y-BGS-0002"
    )


def test_xlsx_import_audits_and_enqueues(ws, archivist_a):
    report = import_catalogue(as_xlsx(GOOD), "list.xlsx", acting_user=archivist_a, dry_run=False)
    assert report.written == 2
    assert AuditLog.objects.filter(action="repository.item.created", actor=archivist_a).count() == 2
    assert OutboxEntry.objects.filter(model_label="repository.item").count() == 2


def test_dry_run_reports_every_bad_row_and_writes_nothing(ws):
    report = import_catalogue(as_csv(GOOD + BAD), "list.csv", acting_user=None, dry_run=True)
    assert not Item.objects.exists()
    assert report.valid == 2 and report.rejected_rows == 5
    by_row = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append((error.column, error.reason))
    assert by_row[4][0][0] == "日期" and "没有 13 月" in by_row[4][0][1]
    assert by_row[5][0][0] == "档号" and "第 2 行" in by_row[5][0][1]
    assert by_row[6][0][0] == "题名" and "必备著录项" in by_row[6][0][1]
    assert by_row[7][0][0] == "门类代码"
    assert by_row[8][0][0] == "档号" and "分隔符" in by_row[8][0][1]


def test_commit_writes_valid_rows_and_returns_rejected_file(ws):
    report = import_catalogue(as_csv(GOOD + BAD), "list.csv", acting_user=None, dry_run=False)
    assert report.written == 2 and Item.objects.count() == 2
    text = rejected_csv(report).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-1] == "错误" and len(rows) == 6
    assert "没有 13 月" in rows[1][-1]
    sheet = load_workbook(io.BytesIO(rejected_xlsx(report))).active
    assert sheet.max_row == 6


def test_all_or_nothing(ws):
    report = import_catalogue(
        as_csv(GOOD + BAD), "list.csv", acting_user=None, dry_run=False, all_or_nothing=True
    )
    assert report.written == 0 and not Item.objects.exists()


def test_code_already_in_catalogue(ws):
    make_item(ws, 1)
    report = import_catalogue(as_csv(GOOD[:1]), "list.csv", acting_user=None, dry_run=True)
    assert "已被其他条目使用" in report.errors[0].reason


def test_missing_columns_and_bad_files(ws):
    with pytest.raises(ImportFileError, match="题名"):
        import_catalogue(
            as_csv(GOOD, header=["全宗号", "门类代码", "档号"]), "x.csv", acting_user=None
        )
    with pytest.raises(ImportFileError, match="UTF-8"):
        import_catalogue("题名".encode("utf-16"), "x.csv", acting_user=None)
    with pytest.raises(ImportFileError):
        import_catalogue(b"%PDF-1.4 binary\x00\x01", "x.csv", acting_user=None)
    with pytest.raises(ImportFileError, match="xlsx"):
        import_catalogue(b"PK\x03\x04 not really a zip", "x.xlsx", acting_user=None)
    assert not Item.objects.exists()


def test_explicit_mapping(ws):
    data = as_csv(
        [["J012", "WS", "标题", "2019", "Y", "BGS", "2019", "某市档案局"]],
        header=["qzh", "mlh", "tm", "rq", "bgqx", "jg", "nd", "zrz"],
    )
    mapping = {
        "qzh": "fonds",
        "mlh": "category",
        "tm": "title",
        "rq": "date",
        "bgqx": "retention",
        "jg": "org_unit",
        "nd": "filing_year",
        "zrz": "creator",
    }
    report = import_catalogue(data, "x.csv", acting_user=None, mapping=mapping, dry_run=False)
    assert report.written == 1, report.errors


def test_position_column_checks_capacity(ws, unit):
    position = Position.objects.order_by("path").first()  # capacity 2
    rows = [
        [
            "J012",
            "WS",
            "",
            f"文件{n}",
            "2019",
            "永久",
            "未审核",
            "BGS",
            "2019",
            "某局",
            position.code,
        ]
        for n in range(3)
    ] + [["J012", "WS", "", "无此位置", "2019", "永久", "未审核", "BGS", "2019", "某局", "NOPE"]]
    report = import_catalogue(
        as_csv(rows, header=HEADER + ["位置编码"]), "x.csv", acting_user=None, dry_run=False
    )
    assert report.written == 2
    assert [e.row for e in report.errors] == [4, 5]
    assert "已满" in report.errors[0].reason
    assert Item.objects.filter(position=position).count() == 2


def test_command(ws, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(as_csv(GOOD + BAD, "gbk"))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_catalogue", str(path), "--dry-run", stdout=out, verbosity=0)
    assert "row 4, 日期" in out.getvalue() and not Item.objects.exists()
    rejected = tmp_path / "bad.csv"
    call_command(
        "import_catalogue", str(path), "--rejected", str(rejected), stdout=out, verbosity=0
    )
    assert Item.objects.count() == 2 and rejected.exists()


def test_import_page_dry_run_commit_and_rejected(ws, archivist_a, client_for, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    settings.MEDIA_ROOT = tmp_path
    client = client_for(archivist_a)
    url = reverse("repository:staff-import")
    upload = SimpleUploadedFile("list.csv", as_csv(GOOD + BAD, "gbk"), "text/csv")
    response = client.post(url, {"file": upload, "kind": "item", "encoding": ""})
    response = run_queued_job(client, response)  # the import runs in the background now
    assert response.status_code == 200
    body = response.content.decode()
    assert "没有 13 月" in body and not Item.objects.exists()
    token = response.context["token"]
    rejected = client.get(reverse("repository:staff-import-rejected", args=[token]))
    assert "没有 13 月" in rejected.content.decode("utf-8-sig")
    response = run_queued_job(client, client.post(url, {"token": token, "commit": "1"}))
    assert response.status_code == 200 and Item.objects.count() == 2
    # someone else's token is not found
    other = client_for(None)
    assert other.get(reverse("repository:staff-import-rejected", args=[token])).status_code == 302
