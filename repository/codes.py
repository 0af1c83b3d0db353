"""Reference codes (档号, DA/T 13-2022): per-fonds patterns, a generator and a validator.

A fonds keeps its pattern in ``Fonds.code_pattern``, a JSON object with one template per kind::

    {
      "volume": "{fonds}-{category}·{year}-{retention}-{volume:4}",
      "item": "{fonds}-{category}·{year}-{retention}-{unit}-{item:4}",
      "item_in_volume": "{volume_code}-{item:3}"
    }

Segments (in braces): ``fonds`` 全宗号, ``category`` 门类/类别代码 (one or more levels joined by
"·", e.g. ``ZY·JC·CC``), ``year`` 年度, ``retention`` 保管期限代码 (Y, D+years, legacy
C/D/长期/短期, see repository/retention.py), ``unit`` 机构/问题代码 (letters, digits or 汉字),
``project`` 项目号, ``catalogue`` 目录号, ``volume`` 案卷号, ``item`` 件号,
``volume_code`` the code of the item's volume. Literal text between segments is a
separator: DA/T 13-2022 joins a higher and a lower code with the 连接号 "-" and codes of
one level with the 间隔号 "·".

Widths (``{item:4}``) are a **minimum**: numbers are zero-padded to the width and simply grow
past it (件号 9999 is followed by 10000, never by a code the validator rejects). DA/T 13-2022
§4.4 (扩充性原则: 档号应预留递增容量) asks for room to grow; a fonds that expects more than
9999 items a year sets a wider width. A number is valid when it is written the canonical way:
at least ``width`` digits and no leading zero beyond the padding (``0001``, ``10000``; not
``001`` or ``00012``).

``validate_code`` aligns the code with its template and reports **every** bad segment, each
naming the element, the value found, the rule and a valid example; ``next_code`` assigns the
next free number under the same prefix (and checks its own result with the validator). Codes
are stable (DA/T 13-2022 §4.3 稳定性原则): changing one is ``renumber_record`` (explicit,
audited).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from repository import retention as retention_codes

DEFAULT_PATTERN = {
    "volume": "{fonds}-{category}·{year}-{retention}-{volume:4}",
    "item": "{fonds}-{category}·{year}-{retention}-{unit}-{item:4}",
    "item_in_volume": "{volume_code}-{item:3}",
}

SEGMENT_NAMES = {
    "fonds": gettext_lazy("fonds number"),
    "category": gettext_lazy("category code"),
    "year": gettext_lazy("year"),
    "retention": gettext_lazy("retention code"),
    "unit": gettext_lazy("organisational unit code"),
    "project": gettext_lazy("project number"),
    "catalogue": gettext_lazy("catalogue number"),
    "volume": gettext_lazy("volume number"),
    "item": gettext_lazy("item number"),
    "volume_code": gettext_lazy("volume reference code"),
}

# DA/T 13-2022 §3.1: a 代码 is "数字、字母、汉字及其他符号"; 全宗号 are letters and digits as the
# archive assigns them; 机构/问题代码 and lower category levels may be 汉字 (the standard's own
# example ``Z109-WS·2011·Y·办公室-0001``).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
SEGMENT_RE = {
    "fonds": r"[A-Z0-9]{1,12}",
    "category": rf"[A-Z0-9{_HAN}]{{1,10}}",  # one level; levels are joined by "·"
    "year": r"[0-9]{4}",
    "retention": retention_codes.CODE_RE,
    "unit": rf"[A-Z0-9{_HAN}]{{1,12}}",
    "project": rf"[A-Z0-9{_HAN}]{{1,20}}",
    "catalogue": r"[A-Z0-9]{1,10}",
    "volume": r"[0-9]+",
    "item": r"[0-9]+",
    "volume_code": r".+",
}
NUMBER_SEGMENTS = ("volume", "item")
# Segments that may span several "·"/"-" separated parts: at most one per template.
ELASTIC = ("category", "volume_code")
SEPARATORS = ("-", "·")
EXAMPLES = {
    "fonds": "J012",
    "category": "WS",
    "year": "2019",
    "retention": "Y",
    "unit": "BGS",
    "project": "01",
    "catalogue": "01",
    "volume_code": "J012-WS·2019-Y-0001",
}
_TOKEN = re.compile(r"\{(\w+)(?::(\d+))?\}")
_SPLIT = re.compile(r"([-·])")


@dataclass(frozen=True)
class Token:
    literal: str = ""
    segment: str = ""
    width: int = 0


@lru_cache(maxsize=256)
def parse_template(template: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            tokens.append(Token(literal=template[pos : match.start()]))
        name = match.group(1)
        if name not in SEGMENT_NAMES:
            raise ValidationError(
                _("Unknown segment {%(name)s} in the code pattern.") % {"name": name}
            )
        tokens.append(Token(segment=name, width=int(match.group(2) or 0)))
        pos = match.end()
    if pos < len(template):
        tokens.append(Token(literal=template[pos:]))
    return tuple(tokens)


def template_for(fonds, kind: str, *, in_volume: bool = False) -> str:
    pattern = {**DEFAULT_PATTERN, **(fonds.code_pattern or {})}
    if kind == "item" and in_volume:
        return pattern["item_in_volume"]
    return pattern[kind]


def validate_pattern(pattern: dict) -> None:
    """A fonds' pattern must parse, separate segments with "-" or "·", hold at most one
    multi-part segment (category or volume code) and end each template in a number segment."""
    for kind, template in pattern.items():
        if kind not in DEFAULT_PATTERN:
            raise ValidationError(_("Unknown pattern kind %(kind)s.") % {"kind": kind})
        tokens = parse_template(template)
        if not tokens or tokens[-1].segment not in NUMBER_SEGMENTS:
            raise ValidationError(
                _("The %(kind)s pattern must end with a volume or item number.") % {"kind": kind}
            )
        previous_literal = True
        for token in tokens:
            if token.literal:
                if token.literal not in SEPARATORS:
                    raise ValidationError(
                        _(
                            "The %(kind)s pattern: “%(text)s” between segments must be a single "
                            "“-” or “·” (DA/T 13-2022)."
                        )
                        % {"kind": kind, "text": token.literal}
                    )
                previous_literal = True
            else:
                if not previous_literal:
                    raise ValidationError(
                        _("The %(kind)s pattern: two segments need a “-” or “·” between them.")
                        % {"kind": kind}
                    )
                previous_literal = False
        if sum(1 for t in tokens if t.segment in ELASTIC) > 1:
            raise ValidationError(
                _("The %(kind)s pattern may use the category or the volume code, not both.")
                % {"kind": kind}
            )


def category_path(category) -> str:
    """The category's code with its parents' codes, joined by "·" (``ZY·JC·CC``): DA/T 13-2022
    §3.4 类别号 are given to every level of the classification scheme, 门类代码 being the first
    (§3.5). A category whose own code already holds "·" is taken as written."""
    parts = [category.code]
    seen = {category.pk}
    parent = getattr(category, "parent", None)
    while parent is not None and parent.pk not in seen and "·" not in category.code:
        parts.append(parent.code)
        seen.add(parent.pk)
        parent = parent.parent
    return "·".join(reversed(parts))


def expected_values(
    fonds,
    category,
    *,
    year=None,
    retention=None,
    unit=None,
    volume=None,
    project=None,
    catalogue=None,
):
    values = {"fonds": fonds.code, "category": category_path(category)}
    if year:
        values["year"] = f"{int(year):04d}"
    if retention:
        values["retention"] = str(retention)
    if unit:
        values["unit"] = unit
    if project:
        values["project"] = project
    if catalogue:
        values["catalogue"] = catalogue
    if volume is not None:
        values["volume_code"] = volume.reference_code
    return values


def record_values(record) -> dict[str, str]:
    """The values a record's code must carry. The 年度 is the 归档年度, or when that is blank the
    year of the record's date (DA/T 22-2015 §5.2.1: 年度 is the year the document was formed),
    so a code's year can never disagree with the record silently."""
    year = record.filing_year or (record.date_start.year if record.date_start else None)
    return expected_values(
        record.fonds,
        record.category,
        year=year,
        retention=record.retention,
        unit=(record.org_unit or None),
        volume=getattr(record, "volume", None),
        project=(getattr(record, "project_code", "") or None),
        catalogue=(getattr(record, "catalogue_number", "") or None),
    )


@dataclass(frozen=True)
class SegmentError:
    """One bad segment: which (``index`` counts segments from 1), the value, the rule, an
    example, and the message naming all four."""

    code: str
    element: str
    index: int
    value: str
    rule: str
    example: str
    message: str


def example_for(name: str, width: int, expected: dict[str, str]) -> str:
    if name in NUMBER_SEGMENTS:
        return f"{1:0{width}d}" if width else "1"
    return expected.get(name) or EXAMPLES.get(name, "")


def example_code(template: str, expected: dict[str, str] | None = None) -> str:
    """A valid code for ``template`` (the record's own values where known)."""
    expected = expected or {}
    out = []
    for token in parse_template(template):
        out.append(token.literal or example_for(token.segment, token.width, expected))
    return "".join(out)


def _rule(name: str, width: int) -> str:
    if name == "year":
        return _("a four-digit year")
    if name == "retention":
        return str(retention_codes.CODE_RULE)
    if name in NUMBER_SEGMENTS:
        if width:
            return _("a number from 1, at least %(width)d digits, zero-padded") % {"width": width}
        return _("a number from 1 without leading zeros")
    if name == "category":
        return _("capital letters, digits or 汉字 per level, levels joined by “·”")
    if name in ("unit", "project"):
        return _("capital letters, digits or 汉字")
    if name == "volume_code":
        return _("the code of the item's volume")
    return _("capital letters and digits")


def _segment_problem(name: str, width: int, value: str, expected: dict[str, str]) -> str | None:
    """Why ``value`` is not a valid ``name`` segment (a rule), or None."""
    if name == "category":
        levels = value.split("·")
        if not all(re.fullmatch(SEGMENT_RE["category"], level) for level in levels):
            return _rule(name, width)
    elif name == "volume_code":
        if not value:
            return _rule(name, width)
    elif not re.fullmatch(SEGMENT_RE[name], value):
        return _rule(name, width)
    if name in NUMBER_SEGMENTS:
        if int(value) == 0:
            return _("numbers start at 1")
        if value != (f"{int(value):0{width}d}" if width else str(int(value))):
            return _rule(name, width)
    want = expected.get(name)
    if name == "retention" and want is not None and retention_codes.equivalent(value, want):
        return None
    if want is not None and value != want:
        if name == "volume_code":
            return _("must be the code of the item's volume, %(expected)s") % {"expected": want}
        return _("the record says “%(expected)s”") % {"expected": want}
    return None


def code_errors(code: str, template: str, expected: dict[str, str] | None = None):
    """Parse ``code`` against ``template``: (segments found, every problem as SegmentError).

    The code is split at its "-" and "·" separators and aligned with the template's segments;
    the category (several levels) or the volume code takes as many parts as it needs (as many
    as the record's own value has when known)."""
    expected = expected or {}
    code = (code or "").strip()
    tokens = parse_template(template)
    segments = [t for t in tokens if t.segment]
    # Separators the template puts between consecutive segments.
    wanted_seps: list[str] = []
    for index, token in enumerate(tokens):
        if token.segment and index + 1 < len(tokens) and tokens[index + 1].literal:
            wanted_seps.append(tokens[index + 1].literal)
    parts = _SPLIT.split(code)
    pieces, seps = parts[0::2], parts[1::2]
    errors: list[SegmentError] = []
    example = example_code(template, expected)

    def add(index: int, name: str, value: str, rule: str) -> None:
        errors.append(
            SegmentError(
                code=code,
                element=name,
                index=index,
                value=value,
                rule=rule,
                example=example_for(name, segments[index - 1].width, expected)
                if name in SEGMENT_NAMES
                else example,
                message=_(
                    "Reference code %(code)s: segment %(n)d (%(segment)s) “%(found)s” is not "
                    "valid: %(rule)s; e.g. %(example)s."
                )
                % {
                    "code": code,
                    "n": index,
                    "segment": SEGMENT_NAMES.get(name, name),
                    "found": value or "∅",
                    "rule": rule,
                    "example": example_for(name, segments[index - 1].width, expected),
                },
            )
        )

    if not code:
        raise ValidationError(_("The reference code is empty."), code="code_empty")
    elastic = next((i for i, t in enumerate(segments) if t.segment in ELASTIC), None)
    fixed = len(segments) - (1 if elastic is not None else 0)
    if elastic is None:
        span = 0
        fits = len(pieces) == len(segments)
    else:
        known = expected.get(segments[elastic].segment)
        span = len(_SPLIT.split(known)[0::2]) if known else max(1, len(pieces) - fixed)
        fits = len(pieces) == fixed + span
    if not fits:
        message = _(
            "Reference code %(code)s has %(found)d parts; the pattern %(template)s has "
            "%(expected)d; e.g. %(example)s."
        ) % {
            "code": code,
            "found": len(pieces),
            "template": template,
            "expected": fixed + max(span, 1),
            "example": example,
        }
        errors.append(SegmentError(code, "", 0, code, _("the pattern's parts"), example, message))
        return {}, errors
    # Align: (segment index, value, separator after it in the code).
    parsed: dict[str, str] = {}
    cursor = 0
    aligned: list[tuple[int, str, str | None]] = []
    for index in range(len(segments)):
        take = span if index == elastic else 1
        value = "".join(
            piece + (seps[cursor + k] if k < take - 1 else "")
            for k, piece in enumerate(pieces[cursor : cursor + take])
        )
        cursor += take
        after = seps[cursor - 1] if cursor - 1 < len(seps) else None
        aligned.append((index, value, after))
    for index, value, after in aligned:
        token = segments[index]
        name = token.segment
        if name == "category" and "-" in value:
            add(index + 1, name, value, _rule(name, token.width))
        else:
            problem = _segment_problem(name, token.width, value, expected)
            if problem:
                add(index + 1, name, value, problem)
        parsed[name] = value
        if index < len(wanted_seps) and after is not None and after != wanted_seps[index]:
            errors.append(
                SegmentError(
                    code=code,
                    element="separator",
                    index=index + 1,
                    value=after,
                    rule=wanted_seps[index],
                    example=example,
                    message=_(
                        "Reference code %(code)s: after segment %(n)d (%(segment)s) the separator "
                        "must be “%(sep)s”, found “%(found)s”; e.g. %(example)s."
                    )
                    % {
                        "code": code,
                        "n": index + 1,
                        "segment": SEGMENT_NAMES[name],
                        "sep": wanted_seps[index],
                        "found": after,
                        "example": example,
                    },
                )
            )
    return parsed, errors


def validate_code(code: str, template: str, expected: dict[str, str] | None = None) -> dict:
    """Check ``code`` against ``template``; return the parsed segments.

    ``expected`` holds values some segments must equal (the record's fonds, category, year…).
    Raises one ValidationError holding one message per bad segment (every one, not the first).
    """
    parsed, errors = code_errors(code, template, expected)
    if errors:
        raise ValidationError([ValidationError(e.message, code="code_segment") for e in errors])
    return parsed


def build_prefix(template: str, values: dict[str, str]) -> tuple[str, Token]:
    """The code up to the final number segment, and that segment's token."""
    tokens = parse_template(template)
    last = tokens[-1]
    prefix = []
    for token in tokens[:-1]:
        if token.literal:
            prefix.append(token.literal)
            continue
        value = values.get(token.segment)
        if not value:
            raise ValidationError(
                _("The %(segment)s is needed to assign a reference code.")
                % {"segment": SEGMENT_NAMES[token.segment]},
                code="code_missing_segment",
            )
        prefix.append(value)
    return "".join(prefix), last


def next_code(template: str, values: dict[str, str], *, taken_codes_with_prefix) -> str:
    """The next free code: highest number under the same prefix + 1, zero-padded to the
    template's minimum width and growing past it (9999 → 10000).

    ``taken_codes_with_prefix(prefix)`` returns the codes already used that start with prefix.
    The result is checked with ``validate_code``: a code the validator would refuse is never
    handed out (e.g. when the record's values themselves break the pattern).
    """
    prefix, last = build_prefix(template, values)
    highest = 0
    for code in taken_codes_with_prefix(prefix):
        tail = code[len(prefix) :]
        if re.fullmatch(r"[0-9]+", tail):
            highest = max(highest, int(tail))
    number = highest + 1
    code = f"{prefix}{number:0{last.width}d}" if last.width else f"{prefix}{number}"
    validate_code(code, template, values)
    return code


@lru_cache(maxsize=256)
def python_format(template: str) -> str:
    """The template as a ``str.format`` string (numbers zero-padded)."""
    out = []
    for token in parse_template(template):
        if token.literal:
            out.append(token.literal.replace("{", "{{").replace("}", "}}"))
        elif token.segment in NUMBER_SEGMENTS:
            out.append(
                f"{{{token.segment}:0{token.width}d}}" if token.width else f"{{{token.segment}}}"
            )
        else:
            out.append(f"{{{token.segment}}}")
    return "".join(out)


def format_code(template: str, values: dict[str, str | int]) -> str:
    """Fill a template directly (bulk paths such as the demo seeder)."""
    return python_format(template).format(**values)
