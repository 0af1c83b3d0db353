"""Description rules (DA/T 18-2022): partial dates and mandatory elements per level."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import Classification
from repository.choices import DatePrecision

_DATE = re.compile(r"^(\d{4})(?:[-./](\d{1,2})(?:[-./](\d{1,2}))?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")  # 20190301 / 201903 (common in Chinese lists)

# Element labels (verbose names of the fields), translated: messages name them in Chinese.
ELEMENT_LABELS = {
    "reference_code": gettext_lazy("reference code"),
    "title": gettext_lazy("title"),
    "access_status": gettext_lazy("access status"),
    "classification": gettext_lazy("classification"),
    "retention": gettext_lazy("retention"),
    "date": gettext_lazy("date"),
    "filing_year": gettext_lazy("filing year"),
    "creator": gettext_lazy("creator"),
}

# Mandatory elements per level (DA/T 18-2022 著录项目 marked 必备).
MANDATORY = {
    "volume": ("reference_code", "title", "access_status", "retention", "filing_year"),
    "item": ("reference_code", "title", "access_status", "retention", "date"),
}


def _one_date(text: str, *, end: bool) -> tuple[dt.date, str]:
    text = text.strip()
    match = _DATE.match(text) or _COMPACT.match(text)
    if not match:
        raise ValidationError(
            _("“%(value)s” is not a date: use YYYY, YYYY-MM or YYYY-MM-DD.") % {"value": text},
            code="date_format",
        )
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if not 1000 <= year <= 2999:
        raise ValidationError(
            _("“%(value)s”: the year %(year)d is not plausible.") % {"value": text, "year": year},
            code="date_year",
        )
    if month is not None and not 1 <= month <= 12:
        raise ValidationError(
            _("“%(value)s” is an impossible date: there is no month %(month)d.")
            % {"value": text, "month": month},
            code="date_month",
        )
    if day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise ValidationError(
                _("“%(value)s” is an impossible date: %(year)d-%(month)02d has %(last)d days.")
                % {"value": text, "year": year, "month": month, "last": last},
                code="date_day",
            )
        return dt.date(year, month, day), DatePrecision.DAY
    if month is not None:
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day), DatePrecision.MONTH
    return (dt.date(year, 12, 31) if end else dt.date(year, 1, 1)), DatePrecision.YEAR


def parse_partial_date(text: str) -> tuple[dt.date | None, dt.date | None, str]:
    """``"2019"``, ``"2019-03"``, ``"2019-03-05"`` or a range ``"2019-03/2019-05"`` (also "~",
    "至") → (start, end, precision). Empty text → (None, None, day)."""
    text = (text or "").strip()
    if not text:
        return None, None, DatePrecision.DAY
    parts = re.split(r"\s*(?:/|~|—|至)\s*", text)
    if len(parts) > 2:
        raise ValidationError(
            _("“%(value)s” is not a date or a date range.") % {"value": text}, code="date_format"
        )
    start, precision = _one_date(parts[0], end=False)
    end, end_precision = _one_date(parts[-1], end=True)
    if end < start:
        raise ValidationError(
            _("“%(value)s”: the range ends before it starts.") % {"value": text},
            code="date_range",
        )
    if len(parts) == 1:
        return start, end, precision
    # The coarser precision of the two ends describes the range.
    order = [DatePrecision.YEAR, DatePrecision.MONTH, DatePrecision.DAY]
    return start, end, min(precision, end_precision, key=order.index)


def format_partial_date(start, end, precision) -> str:
    if start is None:
        return ""

    def fmt(d):
        if precision == DatePrecision.YEAR:
            return f"{d.year:04d}"
        if precision == DatePrecision.MONTH:
            return f"{d.year:04d}-{d.month:02d}"
        return d.isoformat()

    first, last = fmt(start), fmt(end or start)
    return first if first == last else f"{first}/{last}"


def check_mandatory(kind: str, values: dict) -> None:
    """Raise one ValidationError listing every missing mandatory element (by Chinese name)."""
    errors: dict[str, list[str]] = {}
    for element in MANDATORY[kind]:
        if element == "date":
            missing = values.get("date_start") is None
        else:
            value = values.get(element)
            missing = value is None or (isinstance(value, str) and not value.strip())
        if missing:
            errors.setdefault(element, []).append(
                _("%(element)s is a mandatory element.") % {"element": ELEMENT_LABELS[element]}
            )
    classification = values.get("classification")
    if classification is not None and classification not in Classification.values:
        errors.setdefault("classification", []).append(
            _("%(element)s must be one of: %(choices)s.")
            % {
                "element": ELEMENT_LABELS["classification"],
                "choices": "、".join(str(label) for label in Classification.labels),
            }
        )
    if errors:
        raise ValidationError(errors)
