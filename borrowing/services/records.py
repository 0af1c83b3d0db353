"""Records as borrowing names them: slip codes (``I<id>``/``V<id>``), the finder for a
scanned or typed code (through the repository's one finder), request-line keys."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.choices import Classification
from accounts.models import User
from borrowing.models import AccessSettings
from borrowing.services.common import BorrowingError, UnknownCode, fail
from repository.access import find_record
from repository.choices import AccessStatus
from repository.labels import scanned_code
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
    code = scanned_code(code)
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


def metadata_listed_q() -> Q:
    """The metadata-only door: controlled (控制使用), unclassified records of the fonds the
    settings list (``AccessSettings.metadata_fonds``). Their reference code and title are shown
    to signed-in readers so that they can ask for them with a purpose (档案法 2020 第二十八条:
    单位和个人持合法证明，可以利用已经开放的档案; 未开放档案 through the approval path);
    content, pages and everything else stay behind the record door. Unreviewed (未审核) and
    classified records are never listed."""
    fonds_ids = AccessSettings.current().metadata_fonds.values_list("pk", flat=True)
    return Q(
        access_status=AccessStatus.CONTROLLED,
        classification=Classification.NONE,
        fonds_id__in=list(fonds_ids),
    )


def metadata_listed(model, user):
    """Records of ``model`` listed metadata-only to signed-in ``user`` (none to anonymous)."""
    if user is None or not user.is_authenticated:
        return model.objects.none()
    return model.objects.filter(metadata_listed_q())


def requestable(record, user) -> bool:
    """May ``user`` ask for ``record``: through the record door, or as a metadata-only entry."""
    model = type(record)
    if model.objects.visible_to(user).filter(pk=record.pk).exists():
        return True
    return metadata_listed(model, user).filter(pk=record.pk).exists()
