"""Fetch-and-authorise helpers: one call finds the object and checks the user may see it.

"Missing" and "forbidden" are the same answer (``Http404``) so that a code or an id does not
reveal that a hidden record exists.
"""

from __future__ import annotations

from django.http import Http404

from accounts.choices import Role
from repository.models import DigitalPage, Fonds, Item, Volume
from repository.querysets import visible_fonds_ids

KINDS = {"volume": Volume, "item": Item}


def can_change_fonds(user, fonds: Fonds) -> bool:
    """Archivists (and administrators) with ``change_fonds_records`` on the fonds."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if not user.has_role(Role.ARCHIVIST, Role.ADMINISTRATOR):
        return False
    return user.access_facts().has_object_perm("fonds", fonds.pk, "change_fonds_records")


def can_review(user, fonds: Fonds) -> bool:
    return can_change_fonds(user, fonds)


def is_staff_viewer(user) -> bool:
    return user is not None and user.is_authenticated and user.is_archive_staff


LOCATION_ROLES = (Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR)


def can_manage_locations(user) -> bool:
    """Keepers, archivists and administrators set up shelving units and manage boxes (the same
    roles that run stocktakes). Which records they may box is decided per record (visibility)."""
    return user is not None and user.is_authenticated and user.has_role(*LOCATION_ROLES)


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


def access_record_by_code(user, code: str) -> Volume | Item:
    for model in (Volume, Item):
        record = (
            model.objects.visible_to(user)
            .select_related("fonds", "category", "position__room", "position__unit")
            .filter(reference_code=code)
            .first()
        )
        if record is not None:
            return record
    raise Http404


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
