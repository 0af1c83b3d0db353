"""Where things are: a record, box or position by its code, occupancy of a room, shelf order,
and the labels printed from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Sum

from repository.access import find_record
from repository.labels import Label, candidates
from repository.models import Box, Item, Position, ShelvingUnit, StoreRoom, Volume
from repository.services.fields import kind_of


@dataclass
class Location:
    kind: str  # volume | item | box | position
    obj: Any
    position: Position | None

    @property
    def room(self):
        return self.position.room if self.position else None

    @property
    def unit(self):
        return self.position.unit if self.position else None


def where_is(code: str, *, user=None) -> Location | None:
    """Find a record, box or position by its code. Records go through the one finder
    (``access.find_record``: the record door when a user is given, a hidden record is "not
    found"). A Code 128 scan ("." for "·") is understood."""

    record = find_record(
        user, code, label_codes=False, related=("position__room", "position__unit")
    )
    if record is not None:
        return Location(kind_of(record), record, record.position)
    for candidate in candidates(code or ""):
        if candidate:
            found = _where_is_place(candidate)
            if found is not None:
                return found
    return None


def _where_is_place(code: str) -> Location | None:
    related = ("position__room", "position__unit")
    box = Box.objects.select_related(*related).filter(code=code).first()
    if box is not None:
        return Location("box", box, box.position)
    position = Position.objects.select_related("room", "unit").filter(code=code).first()
    if position is not None:
        return Location("position", position, position)
    return None


def records_in_room(room: StoreRoom):
    """(volumes, items) placed in ``room`` — e.g. the records at risk when its climate alarms."""
    return (
        Volume.objects.filter(position__room=room),
        Item.objects.filter(position__room=room),
    )


def room_occupancy(room: StoreRoom) -> dict[str, Any]:
    """Capacity and places used per shelving unit and for the whole room."""
    return rooms_occupancy([room])[0]


def rooms_occupancy(rooms) -> list[dict[str, Any]]:
    """``room_occupancy`` of each room, in the same number of queries for any number of rooms
    (five, grouped by unit): the rooms overview asked five per room, and at 20,000 records it
    was the one staff page over 300 ms at p95 under load (bench/load.py)."""
    rooms = list(rooms)
    ids = [room.pk for room in rooms]
    units: dict[int, dict[str, Any]] = {
        u.pk: {"unit": u, "capacity": 0, "used": 0}
        for u in ShelvingUnit.objects.filter(room_id__in=ids).order_by("code")
    }
    for row in (
        Position.objects.filter(room_id__in=ids)
        .values("unit_id")
        .annotate(capacity=Sum("capacity"))
    ):
        units[row["unit_id"]]["capacity"] = row["capacity"] or 0
    counted = (
        Volume.objects.filter(position__room_id__in=ids, box__isnull=True),
        Item.objects.filter(position__room_id__in=ids, box__isnull=True, volume__isnull=True),
        Box.objects.filter(position__room_id__in=ids),
    )
    for qs in counted:
        for row in qs.values("position__unit_id").annotate(n=Count("id")):
            units[row["position__unit_id"]]["used"] += row["n"]
    out = []
    for room in rooms:
        mine = [u for u in units.values() if u["unit"].room_id == room.pk]
        capacity = sum(u["capacity"] for u in mine)
        used = sum(u["used"] for u in mine)
        out.append(
            {
                "room": room,
                "capacity": capacity,
                "used": used,
                "percent": round(100 * used / capacity, 1) if capacity else 0.0,
                "units": mine,
            }
        )
    return out


def retrieval_list(records) -> list:
    """Records sorted in shelf order (room, unit, side, column, section, layer); unplaced last."""
    return sorted(
        records, key=lambda r: (r.position is None, r.position.path if r.position else "")
    )


def labels_for_codes(codes_text, *, user) -> tuple[list, list[str]]:
    """Labels for record, box or position codes the user may see; and the codes not found."""

    labels, unknown = [], []
    for code in codes_text:
        code = code.strip()
        if not code:
            continue
        location = where_is(code, user=user)
        if location is None:
            unknown.append(code)
            continue
        obj = location.obj
        if location.kind == "position":
            labels.append(Label(obj.code, str(obj.room), str(obj.label())))
        elif location.kind == "box":
            labels.append(Label(obj.code, str(obj.fonds), ""))
        else:
            place = str(location.position.label()) if location.position else ""
            labels.append(Label(obj.reference_code, obj.title, place))
    return labels, unknown


def labels_for_unit(unit: ShelvingUnit) -> list:
    positions = Position.objects.filter(unit=unit).select_related("room", "unit").order_by("path")
    return [Label(p.code, str(p.room), str(p.label())) for p in positions]
