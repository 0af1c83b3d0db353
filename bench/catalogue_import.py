"""Catalogue import throughput: an .xlsx of BENCH_IMPORT_ROWS rows (10,000 by default;
100,000 for the issue's figure) through ``import_catalogue`` (read, validate, bulk write, audit
rows, outbox rows), beside a per-row ``services.create_record`` baseline on the same rows.

    .venv/bin/python bench/catalogue_import.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lantai_repo_bench BENCH_IMPORT_ROWS=100000 \
        .venv/bin/python bench/catalogue_import.py

Both runs are rolled back, so the bench database keeps only the seeded catalogue.
"""

from __future__ import annotations

import io
import os
import time

from _catalogue_setup import prepare
from _harness import report

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
BASELINE_ROWS = int(os.environ.get("BENCH_IMPORT_BASELINE_ROWS", "1000"))
HEADER = [
    "全宗号",
    "门类代码",
    "档号",
    "题名",
    "责任者",
    "日期",
    "页数",
    "保管期限",
    "密级",
    "开放标识",
    "载体类型",
    "主题词",
    "归档年度",
    "机构（问题）",
]


def rows(count: int, unit: str):
    for n in range(1, count + 1):
        year = 1960 + n % 60
        yield [
            "B001",
            "WS",
            f"B001-WS·{year}-Y-{unit}-{n:06d}",
            f"关于{year}年档案工作的通知（{n}）",
            "市档案局",
            f"{year}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
            n % 50 + 1,
            "永久",
            "无",
            "未审核",
            "纸质",
            "档案 工作",
            year,
            unit,
        ]


def workbook(count: int, unit: str) -> bytes:
    from openpyxl import Workbook

    # A normal workbook (not write-only) records its dimension, as files saved by Excel do;
    # read-only loading would otherwise scan the whole sheet once just to size it.
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows(count, unit):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    prepare()
    from django.db import transaction

    from repository import imports, services
    from repository.models import Category, Fonds

    fonds, _ = Fonds.objects.get_or_create(
        code="B001",
        defaults={
            "name": "基准测试全宗",
            "code_pattern": {"item": "{fonds}-{category}·{year}-{retention}-{unit}-{item:6}"},
        },
    )
    category, _ = Category.objects.get_or_create(fonds=fonds, code="WS", defaults={"name": "文书"})
    unit = "R" + format(int(time.time()) % 10**8, "X")
    data = workbook(ROWS, unit)
    report("import_file_rows", ROWS, "rows")
    report("import_file_size", len(data) / 1e6, "MB")

    started = time.perf_counter()
    with transaction.atomic():
        result = imports.import_catalogue(data, "bench.xlsx", acting_user=None, dry_run=False)
        elapsed = time.perf_counter() - started
        assert result.written == ROWS, result.errors[:5]
        transaction.set_rollback(True)
    report("import_xlsx_throughput", ROWS / elapsed, "rows/s")
    report("import_xlsx_seconds", elapsed, "s")

    started = time.perf_counter()
    with transaction.atomic():
        for row in rows(BASELINE_ROWS, unit + "B"):
            values = dict(zip(HEADER, row, strict=True))
            services.create_record(
                "item",
                {
                    "fonds": fonds,
                    "category": category,
                    "reference_code": values["档号"],
                    "title": values["题名"],
                    "creator": values["责任者"],
                    "date": values["日期"],
                    "pages": values["页数"],
                    "retention": "Y",
                    "classification": 0,
                    "access_status": "unreviewed",
                    "carrier": "paper",
                    "keywords": values["主题词"],
                    "filing_year": values["归档年度"],
                    "org_unit": values["机构（问题）"],
                },
                acting_user=None,
            )
        baseline_elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    baseline = BASELINE_ROWS / baseline_elapsed
    report("import_per_row_save_throughput", baseline, "rows/s")
    report("import_speedup", (ROWS / elapsed) / baseline, "x")


if __name__ == "__main__":
    main()
