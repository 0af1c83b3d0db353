"""Identity documents of readers: the GB 11643-1999 check of a 居民身份证 number, the keyed
digest that lets staff match a number again without keeping it, and the mask.

The 公民身份号码 (GB 11643-1999 §4) is 17 digits — 6 address code, 8 birth date (YYYYMMDD),
3 sequence — and one check character computed by ISO 7064:1983 MOD 11-2 (§5.4): weights
W_i = 2^(i-1) mod 11 over positions 18..2, check = (12 - Σ(a_i·W_i) mod 11) mod 11, where 10 is
written "X".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from django.conf import settings

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(i-1) mod 11, i = 18..2
_CHECK = "10X98765432"  # index: Σ mod 11 → check character (GB 11643-1999 §5.4)
_RESIDENT_ID_RE = re.compile(r"^[1-9]\d{5}(\d{4})(\d{2})(\d{2})\d{3}[\dX]$")
_OTHER_RE = re.compile(r"^[0-9A-Z]{5,30}$")


def normalise(number: str) -> str:
    """Spaces removed, upper case, full-width digits and letters folded to ASCII."""
    folded = "".join(
        chr(ord(c) - 0xFEE0) if "\uff01" <= c <= "\uff5e" else c for c in (number or "")
    )
    return "".join(folded.split()).upper()


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def resident_id_problem(number: str) -> str | None:
    """Why ``number`` is not a valid 18-character 公民身份号码, or ``None``: the code of the
    failed rule ("format", "birth_date" or "checksum")."""
    number = normalise(number)
    match = _RESIDENT_ID_RE.match(number)
    if not match:
        return "format"
    year, month, day = (int(g) for g in match.groups())
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return "birth_date"
    if born.year < 1900 or born > dt.date.today():
        return "birth_date"
    if resident_id_check_char(number[:17]) != number[17]:
        return "checksum"
    return None


def other_document_problem(number: str) -> str | None:
    """Passports and other documents: letters and digits only, 5 to 30 characters."""
    return None if _OTHER_RE.match(normalise(number)) else "format"


def id_number_digest(number: str) -> str:
    """A keyed digest of an identity document number: lets staff match a number again without
    the system keeping it (only the digest and the last four characters are stored)."""
    return hmac.new(
        settings.SECRET_KEY.encode(), normalise(number).encode(), hashlib.sha256
    ).hexdigest()


def mask(last4: str) -> str:
    return f"{'*' * 8}{last4}" if last4 else ""
