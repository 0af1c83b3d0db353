"""Shelving units and their positions (sides × columns × sections × layers)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from repository.choices import ShelvingKind
from repository.models import Position, ShelvingUnit, StoreRoom
from repository.placement import require_location_manager

UNIT_CODE_MAX = 8  # Position.make_path pads unit codes to 8 for shelf order
UNIT_POSITIONS_MAX = 10_000
POSITION_CAPACITY_MAX = 1000


def _whole(field: str, value, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(
            {field: [_("“%(value)s” is not a whole number.") % {"value": value}]}
        ) from None
    if not low <= number <= high:
        raise ValidationError(
            {field: [_("Must be between %(low)d and %(high)d.") % {"low": low, "high": high}]}
        )
    return number


@transaction.atomic
def create_shelving_unit(
    room: StoreRoom,
    *,
    acting_user,
    code: str,
    columns: int,
    sections: int,
    layers: int,
    sides: int = 1,
    kind: str = ShelvingKind.MOBILE,
    position_capacity: int = 20,
    name: str = "",
) -> ShelvingUnit:
    """A shelving unit (fixed, or mobile compact shelving 密集架) and every addressable
    position on it: sides × columns (列) × sections (节) × layers (层), each holding
    ``position_capacity`` places. The unit code is 1–8 letters or digits (it is part of every
    position code printed as a barcode). Keepers, archivists and administrators only."""
    require_location_manager(acting_user)
    room = StoreRoom.objects.select_for_update().get(pk=room.pk)  # one unit code at a time
    code = str(code or "").strip()
    name = str(name or "").strip()
    if not (1 <= len(code) <= UNIT_CODE_MAX and code.isascii() and code.isalnum()):
        raise ValidationError(
            {"code": [_("A unit code is 1 to 8 letters or digits, e.g. 03 or A2.")]}
        )
    if kind not in ShelvingKind.values:
        raise ValidationError({"kind": [_("Choose fixed or mobile compact shelving.")]})
    if str(sides) not in ("1", "2"):
        raise ValidationError({"sides": [_("A shelving unit has one or two sides.")]})
    sides = int(sides)
    columns = _whole("columns", columns, 1, 99)
    sections = _whole("sections", sections, 1, 99)
    layers = _whole("layers", layers, 1, 99)
    position_capacity = _whole("position_capacity", position_capacity, 1, POSITION_CAPACITY_MAX)
    if len(name) > 100:
        raise ValidationError({"name": [_("At most 100 characters.")]})
    total = sides * columns * sections * layers
    if total > UNIT_POSITIONS_MAX:
        raise ValidationError(
            _("A unit of %(n)d positions is too large (at most %(max)d); split it in two.")
            % {"n": total, "max": UNIT_POSITIONS_MAX}
        )
    if ShelvingUnit.objects.filter(room=room, code=code).exists():
        raise ValidationError(
            {"code": [_("This room already has a unit %(code)s.") % {"code": code}]}
        )
    if Position.objects.filter(code__startswith=f"{room.code}-{code}-").exists():
        raise ValidationError(
            {"code": [_("Position codes of unit %(code)s are already in use.") % {"code": code}]}
        )
    unit = ShelvingUnit.objects.create(
        room=room,
        code=code,
        name=name,
        kind=kind,
        columns=columns,
        sections=sections,
        layers=layers,
        sides=sides,
        position_capacity=position_capacity,
    )
    Position.objects.bulk_create(build_positions(unit), batch_size=1000)
    record_event(
        "repository.unit.created",
        acting_user=acting_user,
        obj=unit,
        after={
            "code": code,
            "room": room.code,
            "kind": kind,
            "columns": columns,
            "sections": sections,
            "layers": layers,
            "sides": sides,
            "position_capacity": position_capacity,
            "positions": total,
        },
    )
    return unit


def build_positions(unit: ShelvingUnit) -> list[Position]:
    room_code = unit.room.code
    out = []
    for side in "AB"[: unit.sides]:
        for column in range(1, unit.columns + 1):
            for section in range(1, unit.sections + 1):
                for layer in range(1, unit.layers + 1):
                    address = (room_code, unit.code, side, column, section, layer)
                    out.append(
                        Position(
                            room_id=unit.room_id,
                            unit=unit,
                            side=side,
                            column=column,
                            section=section,
                            layer=layer,
                            code=Position.make_code(*address),
                            path=Position.make_path(*address),
                            capacity=unit.position_capacity,
                        )
                    )
    return out
