"""Fetch-and-authorise helpers: one call finds the object and checks the user may see it.

"Missing" and "forbidden" are the same answer (``Http404``) so that a code or an id does not
reveal that a hidden record exists.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.roles import is_staff
from repository.labels import candidates, scanned_code
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
    code = scanned_code(code)
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


def through_volume_door(user, records):
    """Set ``visible_volume_id`` on each record: the id of its volume when that volume passes
    the record door for ``user``, else ``None`` (an open item may lie in a classified volume;
    the API's ``volume_id`` is read from here, never from ``volume_id``). One query."""
    rows = list(records)
    ids = {r.volume_id for r in rows if getattr(r, "volume_id", None)}
    seen = set(Volume.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))
    for row in rows:
        volume_id = getattr(row, "volume_id", None)
        row.visible_volume_id = volume_id if volume_id in seen else None
    return rows


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


def access_page_for_change(user, pk, *, kind: str | None = None, record_pk=None) -> DigitalPage:
    """A digitised page that ``user`` may replace or delete: ``access_page``, and the record's
    fonds is one they may change (``can_change_fonds``, as ``access_record_for_change``).
    With ``kind`` and ``record_pk`` (the API's nested address) only a page of that record.
    ``Http404`` otherwise, for missing and forbidden alike."""
    page = access_page(user, pk)
    if kind is not None:
        page_kind = "volume" if page.volume_id else "item"
        if page_kind != kind or str(page.record.pk) != str(record_pk):
            raise Http404
    if not can_change_fonds(user, page.record.fonds):
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


# --- the audit log's door (core.hooks.audit_hidden_objects / audit_hidden_names) ------------


def hidden_items(user) -> QuerySet:
    return Item.objects.hidden_from(user)


def hidden_volumes(user) -> QuerySet:
    return Volume.objects.hidden_from(user)


def hidden_pages(user) -> QuerySet:
    """Pages of records hidden from ``user``: a page follows its record."""
    return DigitalPage.objects.filter(
        Q(item__in=hidden_items(user).values("pk"))
        | Q(volume__in=hidden_volumes(user).values("pk"))
    )


def hidden_record_names(user, names: set[str]) -> set[str]:
    """Which of ``names`` are the reference code or title of a record hidden from ``user``."""
    found: set[str] = set()
    for model in (Item, Volume):
        rows = model.objects.hidden_from(user).filter(
            Q(reference_code__in=names) | Q(title__in=names)
        )
        for code, title in rows.values_list("reference_code", "title"):
            found.update(name for name in (code, title) if name in names)
    return found
