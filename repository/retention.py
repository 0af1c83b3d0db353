"""保管期限 codes: the standard ones, "D+years" in general, and the legacy ones kept as found.

DA/T 13-2022 (档号编制规则) codes the retention period in the reference code: 永久 ``Y``,
定期 ``D`` followed by the number of years (``D30``, ``D10``; an archive whose retention table
has other periods writes ``D5``, ``D15`` …). Catalogues made before the 2006 reform of the
retention periods (国家档案局令第8号, 《机关文件材料归档范围和文书档案保管期限规定》) carry
永久 / 长期 / 短期, coded ``Y`` / ``C`` / ``D`` (DA/T 22-2000 era). Those values are never
rewritten into 定期30年 / 定期10年 silently: they are kept as found and the record is flagged for
re-appraisal (鉴定) — an explicit decision by people, not a mapping table.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from repository.choices import Retention

# "D" + years: 1 to 999 years, no leading zero.
_PERIOD = re.compile(r"^D([1-9]\d{0,2})$")

# Legacy codes and terms, kept as found; the label says what they meant.
LEGACY = {
    "C": gettext_lazy("Long-term (legacy, to re-appraise)"),  # 长期
    "长期": gettext_lazy("Long-term (legacy, to re-appraise)"),
    "D": gettext_lazy("Short-term (legacy, to re-appraise)"),  # 短期
    "短期": gettext_lazy("Short-term (legacy, to re-appraise)"),
}
# Words archivists write for the standard periods (imports): mapped, since they say the same.
SYNONYMS = {
    "永久": Retention.PERMANENT,
    "Y": Retention.PERMANENT,
    "定期30年": Retention.YEARS_30,
    "30年": Retention.YEARS_30,
    "定期10年": Retention.YEARS_10,
    "10年": Retention.YEARS_10,
}
_YEARS_TEXT = re.compile(r"^(?:定期)?\s*([1-9]\d{0,2})\s*年$")

CODE_RULE = gettext_lazy(
    "Y (permanent), D followed by years (D30, D10, D5…), or a legacy C/D/长期/短期"
)
CODE_RE = r"Y|D[1-9]\d{0,2}|C|D|长期|短期"


def is_legacy(code: str) -> bool:
    return code in LEGACY


_LEGACY_CODE = {"长期": "C", "短期": "D"}


def equivalent(a: str, b: str) -> bool:
    """Two ways of writing one period: a legacy catalogue says 长期 in its 保管期限 column and C
    in its codes (短期 and D likewise)."""
    return _LEGACY_CODE.get(a, a) == _LEGACY_CODE.get(b, b)


def years(code: str) -> int | None:
    """The retention in years (``None`` for 永久 and for legacy codes: they need appraisal)."""
    match = _PERIOD.match(code or "")
    return int(match.group(1)) if match else None


def is_valid(code: str) -> bool:
    return code == Retention.PERMANENT or bool(_PERIOD.match(code or "")) or is_legacy(code)


def label(code: str) -> str:
    """The Chinese/English label for any valid code (``D5`` → "5 years")."""
    if code in Retention.values:
        return str(Retention(code).label)
    if is_legacy(code):
        return str(LEGACY[code])
    n = years(code)
    if n is not None:
        return _("%(years)d years") % {"years": n}
    return code


def parse(value) -> str:
    """Normalise what a person or a file says into a code; legacy values are kept as found.

    Raises ValidationError naming the value, the rule and an example."""
    text = str(value or "").strip().upper().replace(" ", "")
    if not text:
        raise ValidationError(_("The retention is empty."), code="retention_empty")
    if text in SYNONYMS:
        return str(SYNONYMS[text])
    match = _YEARS_TEXT.match(text)
    if match:
        return f"D{int(match.group(1))}"
    if is_valid(text):
        return text
    raise ValidationError(
        _("Retention “%(value)s” is not valid: use %(rule)s, e.g. %(example)s.")
        % {"value": value, "rule": CODE_RULE, "example": "D30"},
        code="retention_invalid",
    )


def validate_code(value: str) -> None:
    """Model validator: a stored value is a code (Y, D+years, a legacy code), never a word."""
    if not is_valid(value):
        raise ValidationError(
            _("Retention “%(value)s” is not valid: use %(rule)s, e.g. %(example)s.")
            % {"value": value, "rule": CODE_RULE, "example": "D30"},
            code="retention_invalid",
        )


def choices_with(current: str | None = None) -> list[tuple[str, str]]:
    """Form choices: the standard periods plus the record's own (legacy or D+N) value."""
    out = [(str(c.value), str(c.label)) for c in Retention]
    if current and current not in Retention.values and is_valid(current):
        out.append((current, label(current)))
    return out
