"""Where records stand, shared by the catalogue services and the boxes: positions and their
occupancy, who may manage locations and who may move a record, the reason a move needs.

Below both ``repository.services`` and ``repository.boxes`` (each imports from here; services
calls ``boxes.move_box`` for a box), so neither imports the other's private helpers.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.errors import NotAllowed
from repository.access import can_manage_locations
from repository.models import Box, Item, Position, Volume


def require_location_manager(user) -> None:
    """Keepers, archivists and administrators set up shelving and manage boxes
    (``acting_user=None`` is the system: the seeder, commands)."""
    if user is not None and not can_manage_locations(user):
        raise NotAllowed(_("Only keepers and archivists manage shelving units and boxes."))


def position_occupancy(position: Position) -> int:
    """Places taken: volumes and loose items not in a box, plus boxes (items inside a volume
    travel with their volume and take no place of their own)."""
    return (
        Volume.objects.filter(position=position, box__isnull=True).count()
        + Item.objects.filter(position=position, box__isnull=True, volume__isnull=True).count()
        + Box.objects.filter(position=position).count()
    )


def resolve_position(value) -> Position:
    if isinstance(value, Position):
        return value
    code = str(value or "").strip()
    position = Position.objects.filter(code=code).first()
    if position is None:
        raise ValidationError(
            {"to_position": [_("There is no position with the code “%(code)s”.") % {"code": code}]}
        )
    return position


def required_reason(reason, missing: str) -> str:
    """A reason for a move or a deletion: required (``missing`` says what for), ≤ 200 characters
    (the ``Move.reason`` column)."""
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [missing]})
    if len(reason) > 200:
        raise ValidationError({"reason": [_("At most 200 characters.")]})
    return reason


def require_move(user, record) -> None:
    """Staff move what they can see (``visible_to``)."""
    if user is None:
        return
    if not user.is_archive_staff or (
        not type(record).objects.visible_to(user).filter(pk=record.pk).exists()
    ):
        raise NotAllowed(_("You may not move this record."))
