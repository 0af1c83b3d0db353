"""Boxes (档案盒): create a box, put volumes and items into it, take them out, move it.

What the product does, and why:

- **A box holds records of one fonds** (``Box.fonds``), as archival boxing does; a record of
  another fonds is refused.
- **Capacity counts places**: each volume and each loose item in the box takes one; the items
  of a boxed volume travel inside it and take none. A put that would overfill the box is
  refused whole.
- **The records follow the box**: a record put into a shelved box now stands at the box's
  position (a ``Move`` is recorded for every record whose position changes, children of a
  boxed volume included); moving the box moves every record inside (one ``Move`` each, with
  the reason given for the box). Taking a record out puts it in the keeper's hands: it is off
  the shelf (``position=None``) unless a position is given, where it then takes a place of its
  own (capacity checked).
- **A record already in another box is refused** ("take it out of that box first"): silently
  re-boxing would hide a wrong scan, and the record's old box would be wrong on its label.
  An item that belongs to a volume is boxed with its volume, never alone. A record out on
  loan (borrowing's on-loan provider) cannot go into a box.
- **One 全宗, 年度, 保管期限 and 机构 per box** (DA/T 22-2015 §6.4: "不同年度、机构(问题)、
  保管期限的归档文件不能装入同一个档案盒"): a box takes those values from its first contents
  (``Box.year / retention / org_unit``) and refuses records that differ. The elements checked
  are the setting ``BOX_UNIFORM_ELEMENTS`` (default all three) for archives whose rule
  differs. A box has a 盒号 per fonds (``Box.number``, assigned in order) and an item range
  (``item_range``: 起止件号 for the 盒脊, DA/T 22-2015 §6.4.1.2).
- **All or nothing**: the codes of one request are checked together; any bad code (unknown,
  hidden, wrong fonds, in another box, …) refuses the whole request with one message per code,
  and nothing changes.
- **Who**: keepers, archivists and administrators (``access.can_manage_locations``); each
  record also passes the rule ``move_record`` uses (staff who see it, ``visible_to``). A code
  the user may not see is "not found", as everywhere. Moving a box needs only the role: the
  keeper carries the box, not its pages (records they may not see are counted, never named).

Every function is atomic, locks the box, then the records, then the target position (the same
order everywhere), writes one audit row, bumps ``version`` and enqueues the search outbox for
every record it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, Max, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import record_event
from core.outbox import enqueue
from repository.access import find_record
from repository.models import Box, Fonds, Item, Move, Position, StoreRoom, Volume
from repository.placement import (
    position_occupancy,
    require_location_manager,
    require_move,
    required_reason,
    resolve_position,
)
from repository.stocktake import records_out_on_loan

BOX_CAPACITY_MAX = 1000
# Record field → box field that must agree (DA/T 22-2015 §6.4).
UNIFORM_FIELDS = {"filing_year": "year", "retention": "retention", "org_unit": "org_unit"}
UNIFORM_LABELS = {
    "filing_year": gettext_lazy("year"),
    "retention": gettext_lazy("retention"),
    "org_unit": gettext_lazy("organisational unit"),
}


def uniform_elements() -> tuple[str, ...]:
    configured = getattr(settings, "BOX_UNIFORM_ELEMENTS", tuple(UNIFORM_FIELDS))
    return tuple(name for name in configured if name in UNIFORM_FIELDS)


def _year_of(record):
    return record.filing_year or (record.date_start.year if record.date_start else None)


def _uniform_value(record, element: str):
    if element == "filing_year":
        return _year_of(record)
    return getattr(record, element) or ""


def _number_of(code: str) -> int | None:
    tail = code.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def item_range(box: Box) -> tuple[str, str]:
    """起止件号 of a box: the first and last 件号 (or 案卷号) of its contents, by the last number
    segment of their codes (DA/T 22-2015 §6.4.1.2)."""
    codes = list(Item.objects.filter(box=box).values_list("reference_code", flat=True))
    codes += list(Volume.objects.filter(box=box).values_list("reference_code", flat=True))
    numbered = sorted((n, code.rsplit("-", 1)[-1]) for code in codes if (n := _number_of(code)))
    if not numbered:
        return "", ""
    return numbered[0][1], numbered[-1][1]


def _box_uniform(box: Box) -> dict:
    """The year / retention / unit the box holds: its own fields, else its first record's."""
    values: dict = {}
    first = (
        Volume.objects.filter(box=box).order_by("pk").first()
        or Item.objects.filter(box=box).order_by("pk").first()
    )
    for element, box_field in UNIFORM_FIELDS.items():
        if element not in uniform_elements():
            continue
        value = getattr(box, box_field) or None
        if value is None and first is not None:
            value = _uniform_value(first, element) or None
        values[element] = value
    return values


def next_box_number(fonds: Fonds) -> int:
    highest = Box.objects.filter(fonds=fonds).aggregate(n=Max("number"))["n"] or 0
    return highest + 1


CODES_PER_REQUEST_MAX = 500


def _user_or_none(user):
    return user if user is not None and user.is_authenticated else None


def used_places(box: Box) -> int:
    """Places taken in the box: its volumes and loose items."""
    return Volume.objects.filter(box=box).count() + Item.objects.filter(box=box).count()


def with_usage(qs):
    """Annotate boxes with ``used`` (places taken) in two subqueries, without joins."""

    def count(model):
        return Coalesce(
            Subquery(
                model.objects.filter(box=OuterRef("pk"))
                .order_by()
                .values("box")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        )

    return qs.annotate(used=count(Volume) + count(Item))


@dataclass
class BoxContents:
    """What ``user`` may read of a box: the records they see, and how many others there are."""

    volumes: list
    items: list
    hidden: int
    used: int

    @property
    def records(self) -> list:
        return [*self.volumes, *self.items]

    @property
    def rows(self) -> list[tuple[str, object]]:
        return [("volume", v) for v in self.volumes] + [("item", i) for i in self.items]


def box_contents(box: Box, user) -> BoxContents:
    volumes = Volume.objects.filter(box=box)
    items = Item.objects.filter(box=box)
    total = volumes.count() + items.count()
    seen_volumes = list(volumes.visible_to(user).order_by("reference_code"))
    seen_items = list(items.visible_to(user).order_by("reference_code"))
    return BoxContents(
        volumes=seen_volumes,
        items=seen_items,
        hidden=total - len(seen_volumes) - len(seen_items),
        used=total,
    )


def _full_message(position: Position, used: int, places: int = 1) -> str:
    if places == 1:
        return _("Position %(code)s is full (%(used)d of %(capacity)d places taken).") % {
            "code": position.code,
            "used": used,
            "capacity": position.capacity,
        }
    return _(
        "Position %(code)s has room for %(free)d more, not %(n)d "
        "(%(used)d of %(capacity)d places taken)."
    ) % {
        "code": position.code,
        "free": max(position.capacity - used, 0),
        "n": places,
        "used": used,
        "capacity": position.capacity,
    }


def _lock_position(value, places: int, *, field: str = "to_position") -> Position:
    """The position (locked) if ``places`` more fit on it; otherwise a ValidationError."""
    position = resolve_position(value)
    position = Position.objects.select_for_update().select_related("room").get(pk=position.pk)
    used = position_occupancy(position)
    if used + places > position.capacity:
        raise ValidationError({field: [_full_message(position, used, places)]})
    return position


def _check_capacity(capacity, *, used: int = 0) -> int:
    try:
        capacity = int(capacity)
    except (TypeError, ValueError):
        capacity = 0
    if not 1 <= capacity <= BOX_CAPACITY_MAX:
        raise ValidationError(
            {
                "capacity": [
                    _("Must be between %(low)d and %(high)d.")
                    % {"low": 1, "high": BOX_CAPACITY_MAX}
                ]
            }
        )
    if capacity < used:
        raise ValidationError(
            {
                "capacity": [
                    _("%(used)d places are in use: take records out first.") % {"used": used}
                ]
            }
        )
    return capacity


def _check_notes(notes) -> str:
    notes = str(notes or "").strip()
    if len(notes) > 200:
        raise ValidationError({"notes": [_("At most 200 characters.")]})
    return notes


def _check_box_code(code: str, *, box: Box | None = None, user=None) -> str:
    code = str(code or "").strip()
    if not code or len(code) > 64 or any(ch.isspace() for ch in code):
        raise ValidationError(
            {"code": [_("A box code is 1 to 64 characters without spaces, e.g. J012-H-0001.")]}
        )
    if box is not None and code == box.code:
        return code
    if Box.objects.filter(code=code).exists():
        raise ValidationError({"code": [_("There is already a box %(code)s.") % {"code": code}]})
    records = (Volume.objects.filter(reference_code=code), Item.objects.filter(reference_code=code))
    if any(qs.exists() for qs in records) or Position.objects.filter(code=code).exists():
        # "Where is it?" and the scanners look records and positions up first.
        hidden_only = (
            user is not None
            and not Position.objects.filter(code=code).exists()
            and not any(qs.visible_to(user).exists() for qs in records)
        )
        if hidden_only:  # taken by a record the user may not see: refused, not confirmed
            raise ValidationError(
                {"code": [_("%(code)s cannot be a box code; choose another.") % {"code": code}]}
            )
        raise ValidationError(
            {"code": [_("%(code)s is already a reference or position code.") % {"code": code}]}
        )
    return code


@transaction.atomic
def create_box(
    *,
    acting_user,
    code: str,
    fonds: Fonds,
    capacity: int = 20,
    room: StoreRoom | None = None,
    position: Position | str | None = None,
    notes: str = "",
) -> Box:
    """A new box of ``fonds``. Unique code (also among reference and position codes); kept in
    ``room`` and/or shelved at ``position`` (the room then follows the position; shelving it
    is recorded as a move)."""
    require_location_manager(acting_user)
    code = _check_box_code(code, user=_user_or_none(acting_user))
    if fonds is None:
        raise ValidationError({"fonds": [_("Choose the fonds of the box.")]})
    capacity = _check_capacity(capacity)
    notes = _check_notes(notes)
    target = None
    if position not in (None, ""):
        target = _lock_position(position, 1, field="position")
        if room is not None and room.pk != target.room_id:
            raise ValidationError(
                {
                    "position": [
                        _("Position %(code)s is not in store room %(room)s.")
                        % {"code": target.code, "room": room.code}
                    ]
                }
            )
        room = target.room
    box = Box.objects.create(
        code=code,
        fonds=fonds,
        room=room,
        position=target,
        capacity=capacity,
        notes=notes,
        number=next_box_number(fonds),
    )
    if target is not None:
        Move.objects.create(
            box=box,
            from_position=None,
            to_position=target,
            moved_by=_user_or_none(acting_user),
            reason=_("New box"),
        )
    record_event(
        "repository.box.created",
        acting_user=acting_user,
        obj=box,
        after={
            "code": code,
            "fonds": fonds.code,
            "room": room.code if room else None,
            "position": target.code if target else None,
            "capacity": capacity,
        },
    )
    return box


def _lock_box(box: Box) -> Box:
    return (
        Box.objects.select_for_update(of=("self",))
        .select_related("position", "fonds")
        .get(pk=box.pk)
    )


def _find(code: str, user):
    """The record with this code (a Code 128 scan works too) that ``user`` sees, locked."""
    return find_record(user, code, lock=True, label_codes=False)


def _lookup(entries, user) -> tuple[list, list[tuple[int, str]]]:
    """Records (locked, each once) for codes or record objects, and one message per bad code;
    both as ``(input position, …)`` so that messages come back in the order of the input."""
    entries = list(entries or [])
    if len(entries) > CODES_PER_REQUEST_MAX:
        raise ValidationError(
            {"codes": [_("At most %(max)d codes at a time.") % {"max": CODES_PER_REQUEST_MAX}]}
        )
    found, errors, seen = [], [], set()
    for index, entry in enumerate(entries):
        if isinstance(entry, Volume | Item):
            record = type(entry).objects.select_for_update().filter(pk=entry.pk).first()
            label = entry.reference_code
        else:
            label = str(entry or "").strip()
            if not label:
                continue
            record = _find(label, user) if len(label) <= 64 else None
        if record is None:
            errors.append(
                (index, _("%(code)s: there is no record with this code.") % {"code": label})
            )
            continue
        key = (type(record), record.pk)
        if key not in seen:
            seen.add(key)
            found.append((index, record))
    if not found and not errors:
        raise ValidationError({"codes": [_("Give at least one reference code.")]})
    return found, errors


def _refuse_if(found: list, errors: list, problem_of) -> list:
    """The records, or a ValidationError listing every problem in input order."""
    errors = errors + [(i, p) for i, p in ((i, problem_of(r)) for i, r in found) if p]
    if errors:
        raise ValidationError({"codes": [message for _i, message in sorted(errors)]})
    return [record for _i, record in found]


def _may_move(user, record) -> str | None:
    try:
        require_move(user, record)
    except PermissionDenied:
        return _("%(code)s: you may not move this record.") % {"code": record.reference_code}
    return None


def _relocate(record, target: Position | None, *, reason: str, user, moves: list) -> None:
    """Save the record at ``target`` (with its box as set by the caller); a Move when its
    position changes; version and outbox always (the record changed)."""
    source_id = record.position_id
    record.position = target
    record.version += 1
    record.save(update_fields=["position", "box", "version", "updated_at"])
    enqueue(record)
    if source_id != (target.pk if target else None):
        moves.append(
            Move(
                **{record._meta.model_name: record},
                from_position_id=source_id,
                to_position=target,
                moved_by=_user_or_none(user),
                reason=reason,
            )
        )


def _children(volumes: list) -> list:
    """Items of these volumes (they travel with their volume), locked."""
    ids = [v.pk for v in volumes]
    if not ids:
        return []
    return list(Item.objects.select_for_update().filter(volume_id__in=ids, box__isnull=True))


def _codes(records) -> list[str]:
    return [r.reference_code for r in records]


def _put_problem(record, box: Box, user, context: dict) -> str | None:
    """Why ``record`` may not go into ``box`` (or None)."""
    code = record.reference_code
    problem = _may_move(user, record)
    if problem:
        return problem
    if record.fonds_id != box.fonds_id:
        return _("%(code)s belongs to fonds %(fonds)s; box %(box)s is for fonds %(box_fonds)s.") % {
            "code": code,
            "fonds": context["fonds"].get(record.fonds_id, ""),
            "box": box.code,
            "box_fonds": box.fonds.code,
        }
    if record.box_id == box.pk:
        return _("%(code)s is already in this box.") % {"code": code}
    if record.box_id is not None:
        return _("%(code)s is in box %(other)s; take it out of that box first.") % {
            "code": code,
            "other": context["boxes"].get(record.box_id, "?"),
        }
    if isinstance(record, Item) and record.volume_id:
        if record.volume_id not in context["volumes"]:  # a volume the user may not see
            return _("%(code)s is part of a volume; put the volume in the box.") % {"code": code}
        return _("%(code)s is part of volume %(volume)s; put the volume in the box.") % {
            "code": code,
            "volume": context["volumes"][record.volume_id],
        }
    if (record._meta.model_name, record.pk) in context["loaned"]:
        return _("%(code)s is out on loan; check it in first.") % {"code": code}
    for element in uniform_elements():
        want = context["uniform"].get(element)
        value = _uniform_value(record, element)
        if want not in (None, "") and value != want:
            return _(
                "%(code)s: %(element)s “%(value)s” differs from box %(box)s (“%(expected)s”); "
                "a box holds one year, retention and unit (DA/T 22-2015 §6.4)."
            ) % {
                "code": code,
                "element": UNIFORM_LABELS[element],
                "value": value or "∅",
                "box": box.code,
                "expected": want,
            }
        if want in (None, ""):
            context["uniform"][element] = value  # the first record sets the box's value
    return None


@transaction.atomic
def put_in_box(records, box: Box, *, acting_user, reason: str = "") -> list:
    """Put volumes or items (objects or reference codes) into ``box``. All or nothing: every
    problem comes back as one message per code under ``codes``. The records then stand where
    the box stands (a Move for each whose position changes)."""
    require_location_manager(acting_user)
    box = _lock_box(box)
    found, errors = _lookup(records, acting_user)
    listed = [r for _i, r in found]
    context = {
        "loaned": records_out_on_loan(
            {r.pk for r in listed if isinstance(r, Volume)},
            {r.pk for r in listed if isinstance(r, Item)},
        ),
        "boxes": dict(
            Box.objects.filter(pk__in={r.box_id for r in listed if r.box_id}).values_list(
                "pk", "code"
            )
        ),
        "fonds": dict(
            Fonds.objects.filter(pk__in={r.fonds_id for r in listed}).values_list("pk", "code")
        ),
        # Volume codes only of the volumes the user may see (the record door).
        "volumes": dict(
            (Volume.objects.visible_to(acting_user) if acting_user else Volume.objects.all())
            .filter(pk__in={r.volume_id for r in listed if isinstance(r, Item) and r.volume_id})
            .values_list("pk", "reference_code")
        ),
    }
    # The box's year / retention / unit: set, or taken from what it holds, or from the first
    # record put in (DA/T 22-2015 §6.4).
    context["uniform"] = _box_uniform(box)
    found = _refuse_if(found, errors, lambda r: _put_problem(r, box, acting_user, context))
    used = used_places(box)
    if used + len(found) > box.capacity:
        raise ValidationError(
            {
                "codes": [
                    _(
                        "Box %(box)s has room for %(free)d more, not %(n)d "
                        "(%(used)d of %(capacity)d places taken)."
                    )
                    % {
                        "box": box.code,
                        "free": max(box.capacity - used, 0),
                        "n": len(found),
                        "used": used,
                        "capacity": box.capacity,
                    }
                ]
            }
        )
    reason = (reason or "").strip()[:200] or _("Put into box %(box)s") % {"box": box.code}
    changed_box = {}
    for element, box_field in UNIFORM_FIELDS.items():
        value = context["uniform"].get(element)
        if (
            element in uniform_elements()
            and value not in (None, "")
            and not getattr(box, box_field)
        ):
            setattr(box, box_field, value)
            changed_box[box_field] = value
    if changed_box:
        box.save(update_fields=list(changed_box))
    target = box.position
    _rehome(found, box=box, target=target, reason=reason, user=acting_user)
    record_event(
        "repository.box.records_added",
        acting_user=acting_user,
        obj=box,
        after={
            "records": _codes(found),
            "position": target.code if target else None,
            "used": used + len(found),
        },
        note=reason,
    )
    return found


def _rehome(found: list, *, box: Box | None, target, reason: str, user) -> None:
    """Put each record in ``box`` (or none) and at ``target``, the items of volumes among them
    with them; one Move per record whose position changes."""
    moves: list[Move] = []
    for record in found:
        record.box = box
        _relocate(record, target, reason=reason, user=user, moves=moves)
    for child in _children([r for r in found if isinstance(r, Volume)]):
        _relocate(child, target, reason=reason, user=user, moves=moves)
    Move.objects.bulk_create(moves)


@transaction.atomic
def take_out_of_box(
    records, box: Box, *, acting_user, to_position: Position | str | None = None, reason: str = ""
) -> list:
    """Take volumes or items (objects or codes) out of ``box``: into the keeper's hands (off the
    shelf) or onto ``to_position`` (each takes a place there; capacity checked). All or
    nothing, one message per bad code."""
    require_location_manager(acting_user)
    box = _lock_box(box)
    found, errors = _lookup(records, acting_user)

    def problem_of(record) -> str | None:
        if record.box_id != box.pk:
            return _("%(code)s is not in box %(box)s.") % {
                "code": record.reference_code,
                "box": box.code,
            }
        return _may_move(acting_user, record)

    found = _refuse_if(found, errors, problem_of)
    target = None
    if to_position not in (None, ""):
        target = _lock_position(to_position, len(found))
    reason = (reason or "").strip()[:200] or _("Taken out of box %(box)s") % {"box": box.code}
    _rehome(found, box=None, target=target, reason=reason, user=acting_user)
    record_event(
        "repository.box.records_removed",
        acting_user=acting_user,
        obj=box,
        after={"records": _codes(found), "to_position": target.code if target else None},
        note=reason,
    )
    return found


@transaction.atomic
def move_box(box: Box, to_position: Position | str | None, *, acting_user, reason: str) -> Move:
    """Move a box to a position (or off the shelf with ``None``): the box takes one place
    there, and every record inside (and the items of a boxed volume) moves with it, one Move
    each with ``reason``. Returns the box's Move."""
    require_location_manager(acting_user)
    reason = required_reason(reason, _("Give the reason for the move."))
    # An unknown code fails before anything is locked.
    target = resolve_position(to_position) if to_position not in (None, "") else None
    box = _lock_box(box)
    volumes = list(Volume.objects.select_for_update().filter(box=box))
    contents = [*volumes, *Item.objects.select_for_update().filter(box=box), *_children(volumes)]
    source = box.position
    if target is not None:
        if source is not None and source.pk == target.pk:
            raise ValidationError(
                {"to_position": [_("It is already at %(code)s.") % {"code": target.code}]}
            )
        target = _lock_position(target, 1)
    elif source is None:
        raise ValidationError({"to_position": [_("The box is not on a shelf.")]})
    box.position = target
    if target is not None:
        box.room = target.room
    box.save(update_fields=["position", "room"])
    moves: list[Move] = []
    for record in contents:
        _relocate(record, target, reason=reason, user=acting_user, moves=moves)
    Move.objects.bulk_create(moves)
    move = Move.objects.create(
        box=box,
        from_position=source,
        to_position=target,
        moved_by=_user_or_none(acting_user),
        reason=reason,
    )
    record_event(
        "repository.box.moved",
        acting_user=acting_user,
        obj=box,
        before={"position": source.code if source else None},
        after={"position": target.code if target else None, "records": len(contents)},
        note=reason,
    )
    return move


@transaction.atomic
def update_box(box: Box, *, acting_user, code=None, capacity=None, notes=None) -> Box:
    """Rename the box, change its capacity (never below the places in use) or its notes.
    Audited with before and after. A new code needs a new label."""
    require_location_manager(acting_user)
    box = _lock_box(box)
    before = {"code": box.code, "capacity": box.capacity, "notes": box.notes}
    if code is not None:
        box.code = _check_box_code(code, box=box, user=_user_or_none(acting_user))
    if capacity is not None:
        box.capacity = _check_capacity(capacity, used=used_places(box))
    if notes is not None:
        box.notes = _check_notes(notes)
    after = {"code": box.code, "capacity": box.capacity, "notes": box.notes}
    if after == before:
        return box
    box.save(update_fields=["code", "capacity", "notes"])
    record_event(
        "repository.box.updated",
        acting_user=acting_user,
        obj=box,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return box


@transaction.atomic
def delete_box(box: Box, *, acting_user, reason: str) -> None:
    """Delete an empty box (a worn-out or mistaken one). Its own moves go with it, so the audit
    row keeps them: code, fonds, where it was, and every move (when, from, to, by whom)."""
    require_location_manager(acting_user)
    reason = required_reason(reason, _("Give the reason for deleting the box."))
    box = _lock_box(box)
    used = used_places(box)
    if used:
        raise ValidationError(
            {"box": [_("The box still holds %(n)d records: take them out first.") % {"n": used}]}
        )
    moves = [
        {
            "at": move.moved_at.isoformat(),
            "from": move.from_position.code if move.from_position else None,
            "to": move.to_position.code if move.to_position else None,
            "by": move.moved_by.get_username() if move.moved_by else None,
            "reason": move.reason,
        }
        for move in box.moves.select_related("from_position", "to_position", "moved_by").order_by(
            "moved_at", "pk"
        )
    ]
    record_event(
        "repository.box.deleted",
        acting_user=acting_user,
        obj=box,
        before={
            "code": box.code,
            "fonds": box.fonds.code,
            "room": box.room.code if box.room_id else None,
            "position": box.position.code if box.position_id else None,
            "capacity": box.capacity,
            "moves": moves,
        },
        note=reason,
    )
    box.delete()
