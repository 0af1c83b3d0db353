"""保密期限 has one home: the description element (form, API, import) is parsed and written
into the record's SecrecyTerm by the classification service, and every reader shows its label."""

from __future__ import annotations

import ast
import datetime as dt
import pathlib
import re
from importlib import import_module

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditLog
from repository import printing, services
from repository.choices import SecrecyPeriodKind
from repository.exports import export_queryset, headers, row_for
from repository.imports import import_catalogue
from repository.models import Item, SecrecyTerm
from tests.repository.conftest import make_item
from tests.repository.test_imports import as_csv

pytestmark = pytest.mark.django_db

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _term(item) -> tuple:
    term = SecrecyTerm.objects.get(item=item)
    return term.kind, term.years, term.ends_on


def _payload(ws, **extra):
    return {
        "fonds": ws.fonds.pk,
        "category": ws.pk,
        "title": "关于保密工作的通知",
        "creator": "某市档案局",
        "date": "20200101",
        "retention": "Y",
        "filing_year": 2020,
        "org_unit": "BGS",
        "classification": 1,
        **extra,
    }


def test_form_api_and_import_end_in_the_same_secrecy_term(ws, archivist_a, client_for):
    expected = (SecrecyPeriodKind.YEARS, 10, dt.date(2030, 1, 1))
    client = client_for(archivist_a)
    # the API
    response = client.post(
        "/api/v1/items/", _payload(ws, secrecy_period="10年"), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    by_api = Item.objects.get(pk=response.json()["id"])
    assert _term(by_api) == expected
    assert response.json()["secrecy_period"] == "10年"
    # the description form (an edit of a record without a period)
    item = make_item(ws, n=7, classification=1, date_start=dt.date(2020, 1, 1))
    edit = reverse("repository:staff-record-edit", args=["item", item.pk])
    data = {k: v for k, v in client.get(edit).context["form"].initial.items() if v is not None}
    data.update(secrecy_period="10 年", date="20200101")
    client.post(edit, data)
    assert _term(item) == expected
    # the import
    header = [
        "全宗号",
        "门类代码",
        "题名",
        "日期",
        "保管期限",
        "密级",
        "保密期限",
        "机构",
        "责任者",
    ]
    rows = [
        ["J012", "WS", "导入的秘密文件", "20200101", "永久", "秘密", "★10", "BGS", "某市档案局"]
    ]
    report = import_catalogue(
        as_csv(rows, header=header), "s.csv", acting_user=archivist_a, dry_run=False
    )
    assert not report.errors, report.errors
    imported = Item.objects.get(title="导入的秘密文件")
    assert _term(imported) == expected
    # each write is audited by the classification service
    assert AuditLog.objects.filter(action="repository.item.secrecy_set").count() == 3
    # a date and the same period again (no change, no new audit row)
    services.update_record(item, {"secrecy_period": "10年"}, acting_user=archivist_a)
    assert AuditLog.objects.filter(action="repository.item.secrecy_set").count() == 3
    services.update_record(item, {"secrecy_period": "2028-06-30"}, acting_user=archivist_a)
    assert _term(item) == (SecrecyPeriodKind.DATE, None, dt.date(2028, 6, 30))


@pytest.mark.parametrize(
    ("level", "written", "message"),
    [
        (1, "11年", "10"),  # 秘密 ≤ 10 years (保守国家秘密法 2024 第十五条)
        (0, "10年", "非密|Only a classified|涉密"),  # a 非密 record has no period
        (1, "明年", "10年 / 20301231 / 长期"),  # not a period at all
    ],
)
def test_limits_and_unclassified_refused_on_every_door(
    ws, archivist_a, client_for, level, written, message
):
    client = client_for(archivist_a)
    before = Item.objects.count()
    response = client.post(
        "/api/v1/items/",
        _payload(ws, classification=level, secrecy_period=written),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "secrecy_period" in response.json()["errors"]
    assert Item.objects.count() == before  # nothing written, the record neither
    with pytest.raises(ValidationError) as exc:
        services.create_record(
            "item", _payload(ws, classification=level, secrecy_period=written), acting_user=None
        )
    assert set(exc.value.message_dict) == {"secrecy_period"}
    label = {0: "非密", 1: "秘密"}[level]
    header = [
        "全宗号",
        "门类代码",
        "题名",
        "日期",
        "保管期限",
        "密级",
        "保密期限",
        "机构",
        "责任者",
    ]
    rows = [["J012", "WS", "导入", "20200101", "永久", label, written, "BGS", "某市档案局"]]
    report = import_catalogue(as_csv(rows, header=header), "s.csv", acting_user=None, dry_run=False)
    assert report.errors and Item.objects.count() == before
    assert not SecrecyTerm.objects.exists()
    assert any(re.search(message, e.reason) for e in report.errors), report.errors


def test_every_reader_shows_the_terms_label(ws, archivist_a, client_for):
    item = make_item(ws, classification=1, date_start=dt.date(2020, 1, 1))
    assert item.secrecy_period == ""
    services.set_secrecy_term(
        item, kind=SecrecyPeriodKind.DATE, ends_on=dt.date(2029, 12, 31), acting_user=archivist_a
    )
    item = Item.objects.get(pk=item.pk)
    label = SecrecyTerm.objects.get(item=item).label()
    assert label == item.secrecy_period == "2029-12-31"
    # export (the column re-imports unchanged: the parser reads the label back)
    row = row_for(export_queryset(Item.objects.filter(pk=item.pk)).get())
    assert row[headers().index("保密期限")] == label
    # printed forms: 秘密★2029-12-31
    assert printing._classification(item) == f"秘密★{label}"
    # API and the description page
    client = client_for(archivist_a)
    assert client.get(f"/api/v1/items/{item.pk}/").json()["secrecy_period"] == label
    page = client.get(reverse("repository:staff-record-edit", args=["item", item.pk]))
    assert page.context["form"].initial["secrecy_period"] == label
    # English labels read back too ("10 years", "long-term")
    with translation.override("en"):
        services.update_record(item, {"secrecy_period": "10 years"}, acting_user=archivist_a)
        item = Item.objects.get(pk=item.pk)
        assert item.secrecy_period == "10 years"
    assert Item.objects.get(pk=item.pk).secrecy_period == "10年"
    # the element cannot be set on the record: it is not a column
    with pytest.raises(AttributeError):
        item.secrecy_period = "30年"  # type: ignore[misc]


def test_secrecy_term_is_written_only_by_the_classification_service():
    """One writer: outside services/classification.py (and migrations) no code creates, saves
    or updates a SecrecyTerm, and nothing writes a ``secrecy_period`` attribute."""
    offenders = []
    for path in (ROOT).glob("*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        skipped = (".venv/", "tests/", "node_modules/", "build/", "dist/", "var/", "wheelhouse/")
        if rel.startswith(skipped) or "/migrations/" in rel:  # not the project's own source
            continue
        if rel == "repository/services/classification.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "SecrecyTerm" not in text and "secrecy_period" not in text:
            continue
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = ast.unparse(node.func.value)
                if "SecrecyTerm" in owner and node.func.attr in (
                    "create",
                    "bulk_create",
                    "update",
                    "update_or_create",
                    "get_or_create",
                    "bulk_update",
                ):
                    offenders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "SecrecyTerm":
                offenders.append(f"{rel}:{node.lineno}")
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "secrecy_period":
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_migration_moves_text_values_into_terms():
    """0008's parser: the written forms become terms; what cannot be a term stays as found."""
    mod = import_module("repository.migrations.0008_secrecy_period_into_terms")
    start = dt.date(2020, 2, 29)
    assert mod._term_values("10年", start) == {
        "kind": "years",
        "years": 10,
        "ends_on": dt.date(2030, 2, 28),
    }
    assert mod._term_values("20301231", start)["ends_on"] == dt.date(2030, 12, 31)
    assert mod._term_values("长期", start)["kind"] == "long"
    assert mod._term_values("不详", start) is None
