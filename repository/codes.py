"""Reference codes (档号, DA/T 13-2022): per-fonds patterns, a generator and a validator.

A fonds keeps its pattern in ``Fonds.code_pattern``, a JSON object with one template per kind::

    {
      "volume": "{fonds}-{category}·{year}-{retention}-{volume:4}",
      "item": "{fonds}-{category}·{year}-{retention}-{unit}-{item:4}",
      "item_in_volume": "{volume_code}-{item:3}"
    }

Segments (in braces; ``:N`` zero-pads a number to N digits): ``fonds`` 全宗号, ``category``
门类/类别代码, ``year`` 年度, ``retention`` 保管期限代码 (Y, D30, D10), ``unit`` 机构/问题代码,
``volume`` 案卷号, ``item`` 件号, ``volume_code`` the code of the item's volume. Literal text
between segments is a separator ("-" or "·"). An empty pattern means ``DEFAULT_PATTERN``.

``validate_code`` walks the code segment by segment and says exactly which segment is wrong;
``next_code`` assigns the next free number under the same prefix. Codes are stable: changing
one is ``repository.services.renumber_record`` (explicit, audited).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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
    "volume": gettext_lazy("volume number"),
    "item": gettext_lazy("item number"),
    "volume_code": gettext_lazy("volume reference code"),
}

SEGMENT_RE = {
    "fonds": r"[A-Z0-9]{1,12}",
    "category": r"[A-Z0-9]{1,10}",
    "year": r"\d{4}",
    "retention": r"Y|D30|D10",
    "unit": r"[A-Z0-9]{1,12}",
    "volume": r"\d+",
    "item": r"\d+",
    "volume_code": r".+(?=-)",  # everything up to the last separator before the item number
}
NUMBER_SEGMENTS = ("volume", "item")
_TOKEN = re.compile(r"\{(\w+)(?::(\d+))?\}")


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
    """A fonds' pattern must parse and end each template in a number segment."""
    for kind, template in pattern.items():
        if kind not in DEFAULT_PATTERN:
            raise ValidationError(_("Unknown pattern kind %(kind)s.") % {"kind": kind})
        tokens = parse_template(template)
        if not tokens or tokens[-1].segment not in NUMBER_SEGMENTS:
            raise ValidationError(
                _("The %(kind)s pattern must end with a volume or item number.") % {"kind": kind}
            )


def expected_values(fonds, category, *, year=None, retention=None, unit=None, volume=None):
    values = {"fonds": fonds.code, "category": category.code}
    if year:
        values["year"] = f"{int(year):04d}"
    if retention:
        values["retention"] = str(retention)
    if unit:
        values["unit"] = unit
    if volume is not None:
        values["volume_code"] = volume.reference_code
    return values


def validate_code(code: str, template: str, expected: dict[str, str] | None = None) -> dict:
    """Check ``code`` against ``template`` segment by segment; return the parsed segments.

    ``expected`` holds values some segments must equal (the record's fonds, category, year…).
    Raises ValidationError naming the first wrong segment and what was expected.
    """
    expected = expected or {}
    code = (code or "").strip()
    if not code:
        raise ValidationError(_("The reference code is empty."), code="code_empty")
    tokens = parse_template(template)
    parsed: dict[str, str] = {}
    pos = 0
    for index, token in enumerate(tokens):
        rest = code[pos:]
        if token.literal:
            if not rest.startswith(token.literal):
                raise ValidationError(
                    _(
                        "Reference code %(code)s: expected the separator “%(sep)s” at "
                        "character %(pos)d, found “%(found)s”."
                    )
                    % {
                        "code": code,
                        "sep": token.literal,
                        "pos": pos + 1,
                        "found": rest[:1] or "∅",
                    },
                    code="code_separator",
                )
            pos += len(token.literal)
            continue
        name = token.segment
        regex = SEGMENT_RE[name]
        if name == "volume_code":
            # The volume code is known from context; otherwise take up to the last literal.
            known = expected.get("volume_code")
            if known:
                regex = re.escape(known)
            else:
                following = "".join(t.literal for t in tokens[index + 1 :] if t.literal)
                regex = r".+(?=" + re.escape(following) + r"\d+$)" if following else r".+"
        match = re.match(regex, rest)
        label = SEGMENT_NAMES[name]
        if not match:
            found = re.split(r"[-·]", rest, maxsplit=1)[0] if rest else "∅"
            if name == "volume_code" and expected.get("volume_code"):
                message = _(
                    "Reference code %(code)s: the %(segment)s must be %(expected)s (the code of "
                    "the item's volume)."
                ) % {"code": code, "segment": label, "expected": expected["volume_code"]}
            else:
                message = _(
                    "Reference code %(code)s: segment %(n)d (%(segment)s) “%(found)s” is not "
                    "valid; expected %(rule)s."
                ) % {
                    "code": code,
                    "n": sum(1 for t in tokens[: index + 1] if t.segment),
                    "segment": label,
                    "found": found,
                    "rule": _rule(name, token.width),
                }
            raise ValidationError(message, code="code_segment")
        value = match.group(0)
        if name in NUMBER_SEGMENTS:
            if token.width and len(value) != token.width:
                raise ValidationError(
                    _(
                        "Reference code %(code)s: the %(segment)s “%(found)s” must have "
                        "%(width)d digits (zero-padded)."
                    )
                    % {"code": code, "segment": label, "found": value, "width": token.width},
                    code="code_padding",
                )
            if int(value) == 0:
                raise ValidationError(
                    _("Reference code %(code)s: the %(segment)s must start at 1.")
                    % {"code": code, "segment": label},
                    code="code_zero",
                )
        want = expected.get(name)
        if want is not None and name != "volume_code" and value != want:
            raise ValidationError(
                _(
                    "Reference code %(code)s: the %(segment)s is “%(found)s” but the record says "
                    "“%(expected)s”."
                )
                % {"code": code, "segment": label, "found": value, "expected": want},
                code="code_mismatch",
            )
        parsed[name] = value
        pos += len(value)
    if pos != len(code):
        raise ValidationError(
            _("Reference code %(code)s: unexpected text “%(extra)s” after the last segment.")
            % {"code": code, "extra": code[pos:]},
            code="code_trailing",
        )
    return parsed


def _rule(name: str, width: int) -> str:
    if name == "year":
        return _("a four-digit year")
    if name == "retention":
        return _("Y, D30 or D10")
    if name in NUMBER_SEGMENTS:
        return _("a %(width)d-digit number") % {"width": width} if width else _("a number")
    return _("capital letters and digits")


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
    """The next free code: highest number under the same prefix + 1, zero-padded.

    ``taken_codes_with_prefix(prefix)`` returns the codes already used that start with prefix.
    """
    prefix, last = build_prefix(template, values)
    highest = 0
    for code in taken_codes_with_prefix(prefix):
        tail = code[len(prefix) :]
        if tail.isdigit():
            highest = max(highest, int(tail))
    number = highest + 1
    return f"{prefix}{number:0{last.width}d}" if last.width else f"{prefix}{number}"


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
