"""Dates as archivists write them (DA/T 18-2022 日期; DA/T 22-2015 §5.5 归档文件目录).

Accepted (also with full-width digits and punctuation, ``２０１９／６／１``):

- ``2019``, ``2019-06``, ``2019-06-01``, ``2019.6.1``, ``2019/6/1`` (how Excel shows a date
  in a Chinese locale), ``2019年6月1日``;
- the standard's 8 digits ``20190601``; ``00`` for an unknown month or day: ``19490000`` (year
  known), ``19490600`` (year and month known); 6 digits ``201906``;
- ranges: ``1998-2003``, ``19980101-20031231``, ``2019-03/2019-05``, ``2019.3~2019.5``,
  ``1998至2003`` (a volume's 起止日期);
- 考证日期 in square brackets, ``[19450815]`` (DA/T 18-2022 §7.6.6: a date established by the
  archivist, not written on the document, is given in "[ ]"); the flag is kept.

Stored as a ``PartialDate``: first and last day (for queries), precision (year / month / day)
and the 考证 flag. Shown and exported in the standards' 8-digit form (``20190601``,
``19490000``, ``19980101-20031231``, ``[19450815]``; DA/T 22-2015 §5.5 归档文件目录: 日期 "以
8位阿拉伯数字标注年月日"); the API writes ISO 8601 (``2019-06-01``, ``2019-06``, ``1998/2003``)
with the flag beside it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from repository.choices import DatePrecision

ORDER = [DatePrecision.YEAR, DatePrecision.MONTH, DatePrecision.DAY]
EXAMPLES = "20190601, 2019-06-01, 2019/6/1, 201906, 2019, 19490000, 1998-2003, [19450815]"

_SEPARATED = re.compile(r"^(\d{4})(?:[-./年](\d{1,2})(?:[-./月](\d{1,2})日?)?月?)?年?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
_RANGE_SPLIT = re.compile(r"\s*(?:/|~|～|—|–|至|到)\s*")


@dataclass(frozen=True)
class PartialDate:
    start: dt.date | None
    end: dt.date | None
    precision: str = DatePrecision.DAY
    inferred: bool = False  # 考证日期

    @property
    def is_range(self) -> bool:
        return self.start is not None and _fmt8(self.start, self.precision, end=False) != _fmt8(
            self.end or self.start, self.precision, end=True
        )


def _normalise(text: str) -> str:
    # Full-width digits and punctuation (０-９, ／, －, ．, ［］) become ASCII (NFKC).
    return unicodedata.normalize("NFKC", text or "").strip()


def _bad(text: str, code: str = "date_format") -> ValidationError:
    return ValidationError(
        _("Date “%(value)s” is not a date archivists write; e.g. %(examples)s.")
        % {"value": text, "examples": EXAMPLES},
        code=code,
    )


def _one(text: str, original: str, *, end: bool) -> tuple[dt.date, str]:
    text = text.strip()
    match = _COMPACT.match(text) or _SEPARATED.match(text)
    if not match:
        raise _bad(original)
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if month == 0:  # 19490000: month and day unknown
        if day:
            raise ValidationError(
                _("Date “%(value)s”: a day without a month; write %(year)d0000.")
                % {"value": original, "year": year},
                code="date_month",
            )
        month = day = None
    if day == 0:  # 19490600: day unknown
        day = None
    if not 1000 <= year <= 2999:
        raise ValidationError(
            _("“%(value)s”: the year %(year)d is not plausible.")
            % {"value": original, "year": year},
            code="date_year",
        )
    if month is not None and not 1 <= month <= 12:
        raise ValidationError(
            _("“%(value)s” is an impossible date: there is no month %(month)d.")
            % {"value": original, "month": month},
            code="date_month",
        )
    if day is not None:
        assert month is not None
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise ValidationError(
                _("“%(value)s” is an impossible date: %(year)d-%(month)02d has %(last)d days.")
                % {"value": original, "year": year, "month": month, "last": last},
                code="date_day",
            )
        return dt.date(year, month, day), DatePrecision.DAY
    if month is not None:
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day), DatePrecision.MONTH
    return (dt.date(year, 12, 31) if end else dt.date(year, 1, 1)), DatePrecision.YEAR


def _split_range(text: str) -> list[str]:
    if re.fullmatch(r"\d{4}/\d{1,2}(?:/\d{1,2})?", text):
        return [text]  # "2019/6/1": slashes inside one date (Excel, Chinese locale)
    # "1998-2003", "19980101-20031231": a hyphen between two compact dates is a range (the
    # hyphen inside "2019-06" is not: the right side has fewer than 4 digits).
    match = re.fullmatch(r"(\d{4}(?:\d{2}){0,2})-(\d{4}(?:\d{2}){0,2})", text)
    if match:
        return [match.group(1), match.group(2)]
    return _RANGE_SPLIT.split(text)


def parse(text) -> PartialDate:
    """What a person or a file wrote → PartialDate; empty → PartialDate(None, None).

    Raises ValidationError naming the value and giving examples of valid dates."""
    original = str(text or "").strip()
    value = _normalise(original)
    if not value:
        return PartialDate(None, None)
    inferred = False
    if value.startswith("[") and value.endswith("]"):
        inferred, value = True, value[1:-1].strip()
    if "[" in value or "]" in value:
        raise _bad(original)
    parts = _split_range(value)
    if len(parts) > 2 or not all(parts):
        raise _bad(original)
    start, precision = _one(parts[0], original, end=False)
    end, end_precision = _one(parts[-1], original, end=True)
    if end < start:
        raise ValidationError(
            _("“%(value)s”: the range ends before it starts.") % {"value": original},
            code="date_range",
        )
    if len(parts) == 2:
        # The coarser precision of the two ends describes the range.
        precision = min(precision, end_precision, key=ORDER.index)
    return PartialDate(start, end, precision, inferred)


def _fmt8(d: dt.date, precision: str, *, end: bool) -> str:
    if precision == DatePrecision.YEAR:
        return f"{d.year:04d}0000"
    if precision == DatePrecision.MONTH:
        return f"{d.year:04d}{d.month:02d}00"
    return d.strftime("%Y%m%d")


def format8(start, end, precision, inferred: bool = False) -> str:
    """The 8-digit form of the standards: ``20190601``, ``19490000``, ``19980101-20031231``,
    ``[19450815]``."""
    if start is None:
        return ""
    first = _fmt8(start, precision, end=False)
    last = _fmt8(end or start, precision, end=True)
    text = first if first == last else f"{first}-{last}"
    return f"[{text}]" if inferred else text


def format_iso(start, end, precision) -> str:
    """ISO 8601 for the API: ``2019-06-01``, ``2019-06``, ``2019``, ``1998/2003``."""
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


def of(record) -> PartialDate:
    return PartialDate(
        record.date_start,
        record.date_end,
        record.date_precision,
        bool(getattr(record, "date_inferred", False)),
    )


def record_format8(record) -> str:
    d = of(record)
    return format8(d.start, d.end, d.precision, d.inferred)
