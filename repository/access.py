"""Fetch-and-authorise helpers: one call finds the object and checks the user may see it.

"Missing" and "forbidden" are the same answer (``Http404``) so that a code or an id does not
reveal that a hidden record exists.
"""

from __future__ import annotations

import re

from django.http import Http404

from accounts.roles import is_staff
from repository.labels import candidates
from repository.models import DigitalPage, Fonds, Item, Volume
from repository.querysets import visible_fonds_ids
from repository.roles import can_catalogue
from repository.roles import can_manage_locations as can_manage_locations

KINDS = {"volume": Volume, "item": Item}
# The code on a borrowing slip and in its barcode: ``I<id>`` for items, ``V<id>`` for volumes.
LABEL_CODE_RE = re.compile(r"^(?P<kind>[IV])(?P<pk>\d{1,12})$")
RECORD_RELATED = ("fonds", "category", "position__room", "position__unit")


def can_change_fonds(user, fonds: Fonds) -> bool:
    """Archivists (and administrators) with ``change_fonds_records`` on the fonds."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if not can_catalogue(user):
        return False
    return user.access_facts().has_object_perm("fonds", fonds.pk, "change_fonds_records")


def can_review(user, fonds: Fonds) -> bool:
    return can_change_fonds(user, fonds)


# Staff of the archive (any staff role): staff lists, where-is, labels, moves.
is_staff_viewer = is_staff


def access_record(user, kind: str, pk) -> Volume | Item:
    """The record of ``kind`` with ``pk`` if ``user`` may see it; otherwise ``Http404``."""
    model = KINDS.get(kind)
    if model is None:
        raise Http404
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    record = (
        model.objects.visible_to(user)
        .select_related("fonds", "category", "position__room", "position__unit")
        .filter(pk=pk)
        .first()
    )
    if record is None:
        raise Http404
    return record


def find_record(
    user, code: str, *, lock: bool = False, label_codes: bool = True, related=RECORD_RELATED
) -> Volume | Item | None:
    """The one finder for codes: the record a scanned or typed code names, through the record
    door. The code is a reference code (a Code 128 scan with "." for "·" too) or, with
    ``label_codes``, a slip code ``I<id>`` / ``V<id>``. A record the user may not see is
    ``None``, exactly like a missing one. ``user=None`` is the system (seeder, commands): no
    door. ``lock`` takes a row lock on the record (inside the caller's transaction)."""
    code = (code or "").strip()
    if not code or len(code) > 128:
        return None

    def first(model, **lookup):
        qs = model.objects.all() if user is None else model.objects.visible_to(user)
        if lock:
            qs = qs.select_for_update(of=("self",))
        elif related:
            qs = qs.select_related(*related)
        return qs.filter(**lookup).first()

    match = LABEL_CODE_RE.match(code.upper()) if label_codes else None
    if match:  # one query for the codes that check-in scans most
        record = first(Item if match["kind"] == "I" else Volume, pk=int(match["pk"]))
        if record is not None:
            return record
    for candidate in candidates(code):
        # Items first: they outnumber volumes (codes are unique across both).
        for model in (Item, Volume):
            record = first(model, reference_code=candidate)
            if record is not None:
                return record
    return None


def access_record_for_change(user, kind: str, pk) -> Volume | Item:
    record = access_record(user, kind, pk)
    if not can_change_fonds(user, record.fonds):
        raise Http404
    return record


def access_page(user, pk) -> DigitalPage:
    """A digitised page whose record the user may see; withheld pages only for staff who see
    the record through their fonds permission."""
    page = DigitalPage.objects.select_related("volume", "item").filter(pk=pk).first()
    if page is None:
        raise Http404
    record = page.record
    access_record(user, "volume" if page.volume_id else "item", record.pk)
    if page.withheld and not sees_fonds(user, record.fonds_id):
        raise Http404
    return page


def sees_fonds(user, fonds_id: int) -> bool:
    """Staff with view permission on the fonds (the public view is not enough)."""
    if not is_staff_viewer(user):
        return False
    ids = visible_fonds_ids(user)
    return ids is None or fonds_id in ids


def sees_original(user, record) -> bool:
    """Originals of digitised pages: only staff who see the record through their fonds."""
    return sees_fonds(user, record.fonds_id) and record.classification <= user.clearance
