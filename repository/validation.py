"""Description rules (DA/T 18-2022): partial dates, mandatory elements per level, 保密期限."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import Classification
from repository import dates

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
    "document_number": gettext_lazy("document number"),
    "secrecy_period": gettext_lazy("secrecy period"),
}

# Mandatory elements per level. DA/T 18-2022 著录项目清单: 档号, 题名, 日期 and 责任者 are 必著
# at every level, 开放标识 at 文件级 and 案卷级; 密级 and 文件编号 are 有则必著 (classification
# is checked below; a 文件编号 cannot be known to exist). 保管期限 and 归档年度 are needed here
# because the reference code is built from them (DA/T 13-2022).
MANDATORY = {
    "volume": (
        "reference_code",
        "title",
        "date",
        "creator",
        "access_status",
        "retention",
        "filing_year",
    ),
    "item": ("reference_code", "title", "date", "creator", "access_status", "retention"),
}
# An example of a valid value for each element, given in messages.
ELEMENT_EXAMPLES = {
    "reference_code": "J012-WS·2019-Y-BGS-0001",
    "title": "关于开展档案安全检查的通知",
    "date": "20190601",
    "creator": "某市档案局",
    "access_status": "控制使用",
    "retention": "Y / D30 / D10",
    "filing_year": "2019",
    "document_number": "某档发〔2019〕12号",
    "secrecy_period": "10年 / 20301231 / 长期",
}

# "10 years" and "long-term" too: ``SecrecyTerm.label()`` in English reads back unchanged.
_SECRECY_YEARS = re.compile(r"^(?:★)?\s*([1-9]\d{0,2})\s*(?:年|years?)?$", re.IGNORECASE)
_SECRECY_DATE = re.compile(r"^(\d{8})$")
SECRECY_LONG = "长期"


def parse_secrecy_period(value) -> str:
    """保密期限 as written → its stored form: ``"10年"`` (years), ``"20301231"`` (until a date,
    8 digits) or ``"长期"``; empty stays empty. (《保守国家秘密法》: a 保密期限 is a period, a
    date, or 长期 for matters that cannot be fixed.) The one parser of the element: the
    classification service turns its result into the record's ``SecrecyTerm``."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if not text:
        return ""
    if text in (SECRECY_LONG, "长期保密") or text.lower() in ("long-term", "long term"):
        return SECRECY_LONG
    match = _SECRECY_YEARS.match(text)
    if match:
        return f"{int(match.group(1))}年"
    match = _SECRECY_DATE.match(text.replace("-", ""))
    if match:
        parsed = dates.parse(match.group(1))
        if parsed.precision == "day" and not parsed.inferred:
            return match.group(1)
    raise ValidationError(
        {
            "secrecy_period": [
                _(
                    "%(element)s “%(value)s” is not valid: write years, a date or 长期; "
                    "e.g. %(example)s."
                )
                % {
                    "element": ELEMENT_LABELS["secrecy_period"],
                    "value": text,
                    "example": ELEMENT_EXAMPLES["secrecy_period"],
                }
            ]
        }
    )


def parse_partial_date(text: str) -> tuple[dt.date | None, dt.date | None, str]:
    """(start, end, precision) of a date as archivists write it (``repository.dates.parse``,
    which also keeps the 考证 flag). Empty text → (None, None, day)."""
    parsed = dates.parse(text)
    return parsed.start, parsed.end, parsed.precision


def format_partial_date(start, end, precision) -> str:
    """ISO 8601 (the API); printed lists and exports use ``dates.format8``."""
    return dates.format_iso(start, end, precision)


def _missing(element: str, values: dict) -> bool:
    if element == "date":
        return values.get("date_start") is None
    value = values.get(element)
    return value is None or (isinstance(value, str) and not value.strip())


def check_mandatory(kind: str, values: dict, before: dict | None = None) -> None:
    """Raise one ValidationError listing every missing mandatory element (by Chinese name, with
    an example of a valid value).

    ``before`` (the record's values before a change): an element that was already missing is
    not held against the change, so records described before an element became mandatory stay
    editable; it cannot be cleared once given."""
    errors: dict[str, list[str]] = {}
    for element in MANDATORY[kind]:
        if not _missing(element, values):
            continue
        if before is not None and _missing(element, before):
            continue
        errors.setdefault(element, []).append(
            _("%(element)s is a mandatory element; e.g. %(example)s.")
            % {"element": ELEMENT_LABELS[element], "example": ELEMENT_EXAMPLES[element]}
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
    legacy = values.get("legacy_values") or {}
    if "classification" in legacy and values.get("access_status") == "open":
        errors.setdefault("access_status", []).append(
            _(
                "The classification was kept as found (“%(value)s”) and waits for re-appraisal; "
                "the record cannot be open before that."
            )
            % {"value": legacy["classification"]}
        )
    if errors:
        raise ValidationError(errors)
