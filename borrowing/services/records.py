"""Records as borrowing names them: slip codes (``I<id>``/``V<id>``), the finder for a
scanned or typed code (through the repository's one finder), request-line keys."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import User
from borrowing.services.common import BorrowingError, UnknownCode, fail
from repository.access import find_record
from repository.models import Item

SCAN_CODE_RE = re.compile(r"^[0-9A-Za-z·\-_.:/ ]{1,64}$")


def record_code(record) -> str:
    """The code on a record's label and in its barcode: ``I<id>`` for items, ``V<id>`` volumes."""
    return f"{'I' if isinstance(record, Item) else 'V'}{record.pk}"


def record_kind(record) -> str:
    return "item" if isinstance(record, Item) else "volume"


def find_record_by_code(code: str, *, user: User | None):
    """The record a scanned or typed code names (its slip code ``I<id>``/``V<id>``, its
    reference code, or a Code 128 scan of it with "." for "·"), through the repository's one
    finder and so through the record door: a record ``user`` may not see (clearance AND fonds
    permission) is answered exactly like an unknown code."""
    code = (code or "").strip()
    if not code or not SCAN_CODE_RE.match(code):
        fail(
            BorrowingError,
            _("The code “%(code)s” is not a valid record code.") % {"code": code[:64]},
            "malformed_code",
        )
    record = find_record(user, code, related=("position",))
    if record is None:
        fail(UnknownCode, _("No record has the code “%(code)s”.") % {"code": code}, "unknown_code")
    return record


def line_kwargs(record) -> dict[str, Any]:
    return {"item": record} if isinstance(record, Item) else {"volume": record}
