"""Catalogue import from CSV (UTF-8, UTF-8 with BOM, GBK) and Excel .xlsx.

1. ``read_table`` reads the file (encoding detected, or given) into a header and rows;
2. ``map_columns`` maps headers to catalogue columns (the column key, its English or Chinese
   name, common aliases, or an explicit mapping); missing required columns stop the import;
3. ``check_rows`` validates every row with the same rules as ``services.build_record`` and
   reports every problem as (row, column, reason) — a dry run stops here;
4. ``import_catalogue`` writes the valid rows in one transaction (bulk, with one audit row per
   record and search-outbox rows) and returns the rejected rows with an error column. With
   ``all_or_nothing`` a single bad row writes nothing (and the dry run says so).

Honest imports (issue 14): nothing is re-appraised on the way in. A legacy retention (长期,
短期, C, D) is kept as found (``repository.retention``); a blank, "内部" or "公开" 密级 is
imported as not classified **and** kept as found in ``legacy_values`` — both flag the record
for re-appraisal and are listed in the report (``report.reappraisal``); a record whose 密级 is
flagged cannot be opened until then. Possible duplicates (the same 题名 + 日期 + 责任者 as
another row or a catalogued record) are listed (``report.duplicates``); the same 档号 is an
error. ``template_xlsx`` is a blank file with the element names and a sample row.

Limits (settings): ``IMPORT_MAX_BYTES`` per file, ``IMPORT_MAX_ROWS`` data rows and
``IMPORT_MAX_CELL_CHARS`` per cell. A file over a limit, and a CSV with a NUL anywhere in it, is a
file-level error (the same in the dry run and the commit: a NUL once passed the dry run and made
the commit a 500); a cell over the limit is an error on its row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from openpyxl import load_workbook

from accounts.audit import _jsonable
from accounts.choices import Classification
from accounts.models import AuditLog
from core.outbox import enqueue_many
from core.output import spreadsheet_cell, spreadsheet_value
from repository import retention as retention_codes
from repository import services
from repository.choices import AccessStatus, Carrier
from repository.exports import COLUMNS, xlsx_bytes
from repository.models import Category, Fonds, Item, Position, Tombstone, Volume

REQUIRED = ("fonds", "category", "title")
BATCH = 2000
ALIASES = {
    "档号": "reference_code",
    "题名": "title",
    "责任者": "creator",
    "日期": "date",
    "文件形成日期": "date",
    "页数": "pages",
    "保管期限": "retention",
    "密级": "classification",
    "开放标识": "access_status",
    "开放状态": "access_status",
    "载体类型": "carrier",
    "主题词": "keywords",
    "附注": "notes",
    "备注": "notes",
    "归档年度": "filing_year",
    "年度": "filing_year",
    "机构（问题）": "org_unit",
    "机构(问题)": "org_unit",
    "机构": "org_unit",
    "全宗号": "fonds",
    "门类代码": "category",
    "门类": "category",
    "类别": "category",
    "案卷档号": "volume",
    "案卷号": "volume",
    "位置": "position",
    "位置编码": "position",
    "件号": "sequence",
    "文件编号": "document_number",
    "文号": "document_number",
    "保密期限": "secrecy_period",
    "项目号": "project_code",
    "目录号": "catalogue_number",
}
CHOICES = {
    "classification": Classification,
    "access_status": AccessStatus,
    "carrier": Carrier,
}
# Words that say "not classified" outright (mapped) …
EXTRA_CHOICE_WORDS = {"classification": {"无": 0, "非密": 0}}
# … and values that do not say it: imported as not classified, kept as found, flagged.
UNSURE_CLASSIFICATION = {"", "内部", "公开", "普通", "一般"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, format, missing columns, limits)."""


class BadRow(list):
    """A row the CSV reader could not read (a cell over the limit): its cells are empty."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


@dataclass
class RowError:
    row: int  # 1-based row number in the file, the header being row 1
    column: str
    reason: str


@dataclass
class ImportReport:
    total: int = 0
    valid: int = 0
    written: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    dry_run: bool = True
    all_or_nothing: bool = False
    # (row, element label, value as found): kept and flagged for re-appraisal.
    reappraisal: list[tuple[int, str, str]] = field(default_factory=list)
    # (row, what it duplicates: "row 3" or a reference code): same 题名 + 日期 + 责任者.
    duplicates: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len(self.rejected)

    @property
    def nothing_written_note(self) -> str:
        """In all-or-nothing mode with a bad row: the dry run says nothing will be written."""
        if self.all_or_nothing and self.errors:
            return _(
                "All or nothing: %(n)d rows are bad, so nothing will be written until every "
                "row is valid."
            ) % {"n": self.rejected_rows}
        return ""


def column_names() -> dict[str, str]:
    """Every accepted header (lower-cased) → column key."""
    names = {key: key for key, _label in COLUMNS}
    names["sequence"] = "sequence"
    for language in ("en", "zh-hans"):
        with override(language):
            for key, label in COLUMNS:
                names[str(label).strip().lower()] = key
    names.update({alias.lower(): key for alias, key in ALIASES.items()})
    return names


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportFileError(
                _("The file is not valid %(encoding)s text.") % {"encoding": encoding}
            ) from exc
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        _("The file's encoding is neither UTF-8 nor GBK; save it as UTF-8 CSV or as .xlsx.")
    )


def read_table(data: bytes, filename: str, *, encoding: str | None = None):
    """(header, iterator of rows). ``.xlsx`` by content (a ZIP), otherwise CSV."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise ImportFileError(
            _("The file is larger than %(max)d MB: split it into several files.")
            % {"max": settings.IMPORT_MAX_BYTES // 2**20}
        )
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise ImportFileError(_("The file is not a readable .xlsx workbook.")) from exc
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ImportFileError(_("The file is empty."))

        def cells():
            try:
                for row in rows:
                    yield ["" if v is None else _cell(v) for v in row]
            except Exception as exc:
                raise ImportFileError(_("The file is not a readable .xlsx workbook.")) from exc

        return [_cell(h) if h is not None else "" for h in header], cells()
    if data[:5] == b"%PDF-" or b"\x00" in data[:1024]:
        raise ImportFileError(_("The file is not a CSV text file or an .xlsx workbook."))
    text = _decode(data, encoding)
    if "\x00" in text:
        raise ImportFileError(
            _("Line %(line)d of the file contains a NUL character: it is not a CSV text file.")
            % {"line": text.count("\n", 0, text.index("\x00")) + 1}
        )
    csv.field_size_limit(settings.IMPORT_MAX_CELL_CHARS)  # the module's one limit, per process
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(
            _("The header row cannot be read: %(error)s") % {"error": exc}
        ) from None
    if not header:
        raise ImportFileError(_("The file is empty."))
    return [h.strip() for h in header], _csv_rows(reader)


def _csv_rows(reader):
    """The reader's rows; a row it cannot read (a cell over the limit) becomes a ``BadRow``."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield BadRow(
                _("A cell is longer than %(max)d characters.")
                % {"max": settings.IMPORT_MAX_CELL_CHARS}
            )


def _cell(value) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def map_columns(header: list[str], mapping: dict[str, str] | None = None) -> dict[int, str]:
    """Column index → key. Raises ImportFileError naming missing required columns."""
    names = column_names()
    explicit = {k.strip().lower(): v for k, v in (mapping or {}).items()}
    result: dict[int, str] = {}
    for index, title in enumerate(header):
        label = (title or "").strip().lower()
        key = explicit.get(label) or names.get(label)
        if key and key not in result.values():
            result[index] = key
    missing = [key for key in REQUIRED if key not in result.values()]
    if missing:
        labels = dict(COLUMNS)
        raise ImportFileError(
            _("Missing columns: %(columns)s.")
            % {"columns": "、".join(str(labels.get(k, k)) for k in missing)}
        )
    return result


class Lookups:
    """Cached lookups so that validating a row costs no query."""

    def __init__(self, user=None):
        self.user = user  # volumes through the record door (a hidden one is "no volume")
        self.fonds = {f.code: f for f in Fonds.objects.all()}
        self.categories = {(c.fonds_id, c.code): c for c in Category.objects.all()}
        self.volumes: dict[str, Volume | None] = {}
        self.positions: dict[str, Position | None] = {}
        self.choice_words = {}
        for name, choices in CHOICES.items():
            words = {}
            for language in ("en", "zh-hans"):
                with override(language):
                    for value, label in choices.choices:
                        words[str(label).strip().lower()] = value
            for value in choices.values:
                words[str(value).lower()] = value
            words.update(EXTRA_CHOICE_WORDS.get(name, {}))
            self.choice_words[name] = words

    def volume(self, code: str) -> Volume | None:
        if code not in self.volumes:
            qs = Volume.objects.all() if self.user is None else Volume.objects.visible_to(self.user)
            self.volumes[code] = qs.filter(reference_code=code).first()
        return self.volumes[code]

    def position(self, code: str) -> Position | None:
        if code not in self.positions:
            self.positions[code] = Position.objects.filter(code=code).first()
        return self.positions[code]


def _row_data(values: dict[str, str], lookups: Lookups, kind: str) -> tuple[dict, list]:
    """Turn cells into service data; return (data, [(column, reason)])."""
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    fonds = lookups.fonds.get(values.get("fonds", "").strip())
    if fonds is None:
        problems.append(("fonds", _("No fonds “%(v)s”.") % {"v": values.get("fonds", "")}))
    else:
        data["fonds"] = fonds
        category = lookups.categories.get((fonds.pk, values.get("category", "").strip()))
        if category is None:
            problems.append(
                (
                    "category",
                    _("No category “%(v)s” in this fonds.") % {"v": values.get("category")},
                )
            )
        data["category"] = category
    for key in (
        "reference_code",
        "title",
        "creator",
        "date",
        "pages",
        "keywords",
        "notes",
        "filing_year",
        "org_unit",
        "sequence",
        "document_number",
        "secrecy_period",
        "project_code",
        "catalogue_number",
    ):
        if key in values:
            data[key] = values[key]
    legacy: dict[str, str] = {}
    if values.get("retention", "") != "":
        # Parsed by the services (repository.retention): legacy values are kept as found.
        data["retention"] = values["retention"]
        if retention_codes.is_legacy(str(values["retention"]).strip().upper()):
            legacy["retention"] = str(values["retention"]).strip()
    if "classification" in values and values["classification"].strip() in UNSURE_CLASSIFICATION:
        legacy["classification"] = values["classification"].strip()
        data["classification"] = Classification.NONE
    for key in CHOICES:
        raw = values.get(key, "")
        if key in data or raw == "":
            continue  # (no 密级 column: not classified, as the file makes no claim)
        value = lookups.choice_words[key].get(str(raw).strip().lower())
        if value is None:
            problems.append((key, _("“%(v)s” is not a known value.") % {"v": raw}))
        else:
            data[key] = value
    if kind == "item" and values.get("volume"):
        volume = lookups.volume(values["volume"].strip())
        if volume is None:
            problems.append(("volume", _("No volume “%(v)s”.") % {"v": values["volume"]}))
        data["volume"] = volume
    if values.get("position"):
        position = lookups.position(values["position"].strip())
        if position is None:
            problems.append(
                (
                    "position",
                    _("There is no position with the code “%(code)s”.")
                    % {"code": values["position"]},
                )
            )
        data["_position"] = position
    return data, problems, legacy


def check_rows(
    header: list[str],
    rows: Iterable[list[str]],
    *,
    kind: str = "item",
    mapping: dict[str, str] | None = None,
    acting_user=None,
    progress: Callable[[int], None] | None = None,
):
    """Validate every row. Yields (row number, cells, record or None, [RowError])."""
    columns = map_columns(header, mapping)
    lookups = Lookups(acting_user)
    seen: dict[str, int] = {}
    pending: list = []
    placed: dict[int, int] = {}
    labels = dict(COLUMNS)

    def flush():
        # One query per batch for codes already in the catalogue.
        codes = [r.reference_code for _n, _c, r, errs in pending if r is not None and not errs]
        existing = set()
        for model in (Volume, Item, Tombstone):  # a destroyed record's code stays taken
            existing |= set(
                model.objects.filter(reference_code__in=codes).values_list(
                    "reference_code", flat=True
                )
            )
        for number, cells, record, errors in pending:
            if record is not None and not errors and record.reference_code in existing:
                errors.append(
                    RowError(
                        number,
                        str(labels["reference_code"]),
                        services.code_taken_message(record.reference_code, user=acting_user) or "",
                    )
                )
            yield number, cells, (None if errors else record), errors
        pending.clear()

    def claimed(prefix):
        return [code for code in seen if code.startswith(prefix)]

    for offset, cells in enumerate(rows):
        number = offset + 2
        if isinstance(cells, BadRow):
            pending.append((number, cells, None, [RowError(number, "", cells.reason)]))
            continue
        if not any(str(c).strip() for c in cells):
            continue
        if problem := _cells_problem(cells):
            pending.append((number, cells, None, [RowError(number, "", problem)]))
            continue
        values = {
            key: spreadsheet_value(str(cells[i]).strip()).strip() if i < len(cells) else ""
            for i, key in columns.items()
        }
        data, problems, legacy = _row_data(values, lookups, kind)
        record = None
        # 开放标识 in a catalogue is kept as an imported decision (file, row, who), never as a
        # plain field write (services.opening.imported_decisions).
        status = data.pop("access_status", None)
        if status == AccessStatus.PARTIAL:
            problems.append(
                (
                    "access_status",
                    _("An opening in part names its withheld pages: decide it in the review."),
                )
            )
        errors = [RowError(number, str(labels.get(c, c)), reason) for c, reason in problems]
        if not problems:
            try:
                record = services.build_record(
                    kind, data, acting_user=acting_user, check_unique=False, taken=claimed
                )
                record._import_row = number  # type: ignore[union-attr]
                if status and status != AccessStatus.UNREVIEWED:
                    if record.classification:
                        raise ValidationError(
                            {"access_status": [_("A classified record cannot be open.")]}
                        )
                    record.access_status = status
            except ValidationError as exc:
                details = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
                for column, messages in details.items():
                    for message in messages:
                        errors.append(RowError(number, str(labels.get(column, column)), message))
            except PermissionDenied as exc:
                errors.append(RowError(number, str(labels["fonds"]), str(exc)))
        if record is not None and not errors and legacy:
            record.legacy_values = legacy
            if "classification" in legacy and record.access_status == AccessStatus.OPEN:
                errors.append(
                    RowError(
                        number,
                        str(labels["access_status"]),
                        _(
                            "The classification “%(value)s” is kept as found and waits for "
                            "re-appraisal; the record cannot be imported as open."
                        )
                        % {"value": legacy["classification"]},
                    )
                )
        if record is not None and not errors:
            if record.reference_code in seen:
                errors.append(
                    RowError(
                        number,
                        str(labels["reference_code"]),
                        _("The reference code %(code)s is repeated (first on row %(row)d).")
                        % {"code": record.reference_code, "row": seen[record.reference_code]},
                    )
                )
            else:
                seen[record.reference_code] = number
            position = data.get("_position")
            if position is not None and not errors:
                if position.pk not in placed:
                    placed[position.pk] = services.position_occupancy(position)
                used = placed[position.pk]
                if used >= position.capacity:
                    errors.append(
                        RowError(
                            number,
                            str(labels["position"]),
                            _("Position %(code)s is full (%(used)d of %(capacity)d places taken).")
                            % {"code": position.code, "used": used, "capacity": position.capacity},
                        )
                    )
                else:
                    placed[position.pk] += 1
                    record.position = position
        pending.append((number, cells, record, errors))
        if progress:
            progress(1)
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()


def _cells_problem(cells: list) -> str:
    """A reason to refuse the row whatever its columns mean (an .xlsx cell; a CSV cell is
    already bounded by the reader and free of NUL), or ""."""
    for cell in cells:
        text = str(cell)
        if len(text) > settings.IMPORT_MAX_CELL_CHARS:
            return _("A cell is longer than %(max)d characters.") % {
                "max": settings.IMPORT_MAX_CELL_CHARS
            }
        if "\x00" in text:
            return _("A cell contains a NUL character.")
    return ""


def import_catalogue(
    data: bytes,
    filename: str,
    *,
    acting_user,
    kind: str = "item",
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    dry_run: bool = True,
    all_or_nothing: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check (and unless ``dry_run``, write) a catalogue file. File-level problems raise
    ImportFileError; row problems are in the report and their rows in ``report.rejected``."""
    header, rows = read_table(data, filename, encoding=encoding)
    report = ImportReport(header=header, dry_run=dry_run, all_or_nothing=all_or_nothing)
    model = services.KINDS[kind]
    duplicates = _DuplicateFinder(model, acting_user, report)
    labels = dict(COLUMNS)
    with transaction.atomic():
        batch = []
        for number, cells, record, errors in check_rows(
            header, rows, kind=kind, mapping=mapping, acting_user=acting_user, progress=progress
        ):
            report.total += 1
            if report.total > settings.IMPORT_MAX_ROWS:  # in the transaction: nothing written
                raise ImportFileError(
                    _("The file has more than %(max)d rows: split it into several files.")
                    % {"max": settings.IMPORT_MAX_ROWS}
                )
            if errors:
                report.errors += errors
                report.rejected.append((number, list(cells), "；".join(e.reason for e in errors)))
                continue
            report.valid += 1
            for element, value in (record.legacy_values or {}).items():
                report.reappraisal.append((number, str(labels.get(element, element)), value))
            duplicates.add(number, record)
            if not dry_run:
                batch.append(record)
                if len(batch) >= BATCH:
                    report.written += _write(model, batch, acting_user, filename)
                    batch = []
        duplicates.flush()
        report.duplicates.sort()
        if not dry_run:
            if all_or_nothing and report.errors:
                transaction.set_rollback(True)
                report.written = 0
                return report
            report.written += _write(model, batch, acting_user, filename)
    return report


class _DuplicateFinder:
    """Possible duplicates: the same 题名 + 日期 + 责任者 as an earlier row or as a catalogued
    record the user may see (one query per batch)."""

    def __init__(self, model, user, report: ImportReport) -> None:
        self.model, self.user, self.report = model, user, report
        self.rows: dict[tuple, int] = {}
        self.pending: list[tuple[int, tuple]] = []

    @staticmethod
    def key(record) -> tuple:
        return (record.title.strip(), record.date_start, record.date_end, record.creator.strip())

    def add(self, number: int, record) -> None:
        key = self.key(record)
        if not key[0]:
            return
        if key in self.rows:
            self.report.duplicates.append((number, _("row %(row)d") % {"row": self.rows[key]}))
            return
        self.rows[key] = number
        self.pending.append((number, key))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        qs = (
            self.model.objects.all()
            if self.user is None
            else self.model.objects.visible_to(self.user)
        )
        found: dict[tuple, str] = {}
        for row in qs.filter(title__in={key[0] for _n, key in self.pending}).values(
            "title", "date_start", "date_end", "creator", "reference_code"
        ):
            key = (row["title"].strip(), row["date_start"], row["date_end"], row["creator"].strip())
            found.setdefault(key, row["reference_code"])
        for number, key in self.pending:
            if key in found:
                self.report.duplicates.append((number, found[key]))
        self.pending.clear()


def template_xlsx(kind: str = "item") -> bytes:
    """A blank import file: the element names (in the active language) and one sample row, as
    DA/T 18-2022 elements are written (8-digit date, 文号, 保管期限 code)."""
    sample = {
        "reference_code": "",
        "title": "关于开展档案安全检查的通知",
        "creator": "某市档案局",
        "document_number": "某档发〔2019〕12号",
        "date": "20190601",
        "pages": "3",
        "retention": "永久",
        "classification": "非密",
        "secrecy_period": "",
        "access_status": "未审核",
        "carrier": "纸质",
        "keywords": "档案 安全检查",
        "notes": "",
        "filing_year": "2019",
        "org_unit": "BGS",
        "fonds": "J012",
        "category": "WS",
        "volume": "",
        "position": "",
    }
    keys = [key for key, _label in COLUMNS if kind == "item" or key != "volume"]
    return xlsx_bytes(
        [[sample.get(key, "") for key in keys]],
        [str(dict(COLUMNS)[k]) for k in keys],
        title="import",
    )


def _write(model, records: list, acting_user, filename: str = "") -> int:
    if not records:
        return 0
    model.objects.bulk_create(records, batch_size=BATCH)
    if records[0].pk is None:  # backends without RETURNING: fetch the ids by code
        ids = dict(
            model.objects.filter(
                reference_code__in=[r.reference_code for r in records]
            ).values_list("reference_code", "pk")
        )
        for record in records:
            record.pk = ids[record.reference_code]
    content_type = ContentType.objects.get_for_model(model)
    actor = acting_user if acting_user is not None and acting_user.is_authenticated else None
    actor_name = actor.get_username() if actor else "system"
    now = timezone.now()
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                at=now,
                actor=actor,
                actor_repr=actor_name,
                action=f"repository.{model._meta.model_name}.created",
                object_type=content_type,
                object_id=str(r.pk),
                object_repr=str(r)[:255],
                after=_jsonable(services.snapshot(r)),
                note="import",
            )
            for r in records
        ],
        batch_size=BATCH,
    )
    # 保密期限 checked per row by build_record; written into SecrecyTerm through the service.
    for record in records:
        services.save_secrecy(record, acting_user=acting_user)
    services.imported_decisions(
        [(r, getattr(r, "_import_row", None)) for r in records],
        filename=filename,
        acting_user=acting_user,
    )
    enqueue_many(records)
    return len(records)


def rejected_csv(report: ImportReport) -> bytes:
    """The rejected rows as UTF-8 CSV (with BOM), original columns plus an error column; cells
    that would run as formulas get an apostrophe (``core.output.spreadsheet_cell``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_cell(c) for c in (_("row"), *report.header, _("error"))])
    for number, cells, reason in report.rejected:
        writer.writerow([spreadsheet_cell(c) for c in (number, *cells, reason)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def rejected_xlsx(report: ImportReport) -> bytes:
    rows = ([number, *cells, reason] for number, cells, reason in report.rejected)
    return xlsx_bytes(rows, [_("row"), *report.header, _("error")], title="rejected")
