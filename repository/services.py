"""Every state change of the catalogue and the store rooms (action functions).

## Repository API for other apps

All write functions are atomic, take ``acting_user`` keyword-only, write one audit row
(``accounts.audit.record_event``), enqueue the search outbox (``core.outbox.enqueue``) for
every volume or item they change and bump ``version``. They raise
``django.core.exceptions.ValidationError`` with a message naming the problem (nothing changes).

Records ("record" below is a ``Volume`` or an ``Item``):

- ``create_record(kind: "volume" | "item", data: dict, *, acting_user) -> Volume | Item``
- ``update_record(record, changes: dict, *, acting_user) -> record``
- ``delete_record(record, *, acting_user) -> None``
- ``renumber_record(record, new_code: str, *, acting_user, reason: str) -> record``

Opening review (开放审核):

- ``review_queue_for(model, *, today=None) -> QuerySet`` (records past their opening age, not
  open, not waiting for a later review date; filter it with ``.visible_to(user)``)
- ``decide_opening(record, decision: OpeningDecision, *, acting_user, reason="",
  next_review_on=None, withheld_pages=()) -> OpeningReview``

Locations:

- ``create_shelving_unit(room, *, acting_user, code, columns, sections, layers, sides=1,
  kind="mobile", position_capacity=20, name="") -> ShelvingUnit`` (creates every Position)
- ``move_record(record_or_box, to_position: Position | str | None, *, acting_user, reason)
  -> Move`` — capacity checked under a row lock; ``to_position=None`` takes it off the shelf
  (e.g. issued on loan); a box moves its contents along, a volume its items.
- ``where_is(code: str, *, user=None) -> Location | None`` — a record, box or position by its
  code (a Code 128 scan with "." for "·" works too); records through ``visible_to(user)``
  when ``user`` is given. ``Location.kind / obj / position / room / unit``.
- ``position_occupancy(position) -> int``; ``room_occupancy(room) -> dict`` (capacity, used,
  percent, per unit); ``records_in_room(room) -> (volumes_qs, items_qs)`` (e.g. "records at
  risk in a room" for storage_env).
- ``retrieval_list(records) -> list`` records sorted by shelf order (``Position.path``).
- ``labels_for_codes(codes, *, user) -> (labels, unknown)``, ``labels_for_unit(unit)``; the PDF
  is ``repository.labels.labels_pdf(labels, size="a4" | "thermal")``.

Digitised pages (``repository.images``):

- ``add_digital_page(record, upload, *, acting_user, page_number=None) -> DigitalPage``
- ``render_variant(page, "thumb" | "web", *, watermark: bool) -> bytes``; the page URL is
  ``repository:page-image`` (watermarked for the public and researchers; withheld pages and
  originals never reach them). Borrowing may grant time-limited access by serving
  ``render_variant`` behind its own grant check.

Views of classified records: ``record_classified_view(record, *, acting_user)`` (audit only);
exports: ``record_export(*, acting_user, kind, query, fmt)``.

Stocktake (``repository.stocktake``): ``open_stocktake(room, *, acting_user, unit=None)``,
``record_scan(stocktake, code, *, acting_user, position=None)``,
``close_stocktake(stocktake, *, acting_user) -> report``; "on loan" comes from providers
registered with ``register_on_loan_provider(fn)``, ``fn(volume_ids, item_ids) ->
{("volume" | "item", id)}`` (borrowing registers one).

Imports (``repository.imports``): ``import_catalogue(data, filename, *, acting_user, kind,
mapping=None, encoding=None, dry_run=True, all_or_nothing=False) -> ImportReport``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, ProtectedError, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Classification
from core.errors import NotAllowed
from core.outbox import enqueue
from repository import codes, dates
from repository import retention as retention_codes
from repository.access import can_change_fonds, find_record
from repository.boxes import move_box
from repository.choices import (
    AccessStatus,
    Carrier,
    OpeningDecision,
    ShelvingKind,
)
from repository.labels import Label, candidates
from repository.models import (
    Box,
    Category,
    Fonds,
    Item,
    Move,
    OpeningReview,
    Position,
    ShelvingUnit,
    StoreRoom,
    Volume,
)
from repository.placement import (
    position_occupancy,
    require_location_manager,
    require_move,
    required_reason,
    resolve_position,
)
from repository.validation import ELEMENT_LABELS, check_mandatory, parse_secrecy_period

KINDS = {"volume": Volume, "item": Item}
EDITABLE_FIELDS = (
    "title",
    "creator",
    "pages",
    "retention",
    "classification",
    "access_status",
    "carrier",
    "keywords",
    "notes",
    "filing_year",
    "org_unit",
    "document_number",
    "secrecy_period",
    "project_code",
    "catalogue_number",
)
AUDITED_FIELDS = (
    "reference_code",
    *EDITABLE_FIELDS,
    "date_start",
    "date_end",
    "date_precision",
    "date_inferred",
    "legacy_values",
    "category_id",
    "volume_id",
    "sequence",
)


def kind_of(record) -> str:
    return "volume" if isinstance(record, Volume) else "item"


def snapshot(record) -> dict[str, Any]:
    return {f: getattr(record, f, None) for f in AUDITED_FIELDS if hasattr(record, f)}


def _require_change(user, fonds: Fonds, classification: int = 0) -> None:
    if user is None:  # system actions (imports from the command line, the seeder)
        return
    if not can_change_fonds(user, fonds):
        raise NotAllowed(_("You may not change the records of this fonds."))
    if int(classification) > int(user.clearance):
        raise NotAllowed(_("The classification is above your clearance."))


def _codes_with_prefix(prefix: str) -> list[str]:
    found: list[str] = []
    for model in (Volume, Item):
        found += model.objects.filter(reference_code__startswith=prefix).values_list(
            "reference_code", flat=True
        )
    return found


def validate_code_segments(record, code: str) -> None:
    """Validate ``code`` for ``record`` segment by segment (no uniqueness check)."""
    kind = kind_of(record)
    volume = getattr(record, "volume", None)
    template = codes.template_for(record.fonds, kind, in_volume=volume is not None)
    expected = codes.record_values(record)
    try:
        codes.validate_code(code, template, expected)
    except ValidationError as exc:
        raise ValidationError({"reference_code": exc.messages}) from exc


def code_taken_message(code: str, *, user=None, exclude=None) -> str | None:
    """Why ``code`` cannot be given (it is taken), as ``user`` may read it; ``None`` when it is
    free. A code held by a record the user may not see (the record door) is refused with a
    message that names no record, so a refusal never confirms a hidden record."""
    holders = []
    for model in (Volume, Item):
        qs = model.objects.filter(reference_code=code)
        if exclude is not None and isinstance(exclude, model):
            qs = qs.exclude(pk=exclude.pk)
        holders.append(qs)
    if not any(qs.exists() for qs in holders):
        return None
    if user is None or any(qs.visible_to(user).exists() for qs in holders):
        return _("The reference code %(code)s is already used by another record.") % {"code": code}
    return _("The reference code %(code)s is not available; choose another.") % {"code": code}


def validate_reference_code(record, code: str, *, user=None) -> None:
    """Validate ``code`` for ``record`` segment by segment and for uniqueness (the refusal
    worded for ``user``, see ``code_taken_message``)."""
    validate_code_segments(record, code)
    message = code_taken_message(code, user=user, exclude=record if record.pk else None)
    if message:
        raise ValidationError({"reference_code": [message]})


def _choice(field: str, value, choices) -> Any:
    if value in (None, ""):
        return None
    if field == "classification":
        try:
            value = int(value)
        except (TypeError, ValueError):
            value = -1
    if value not in choices.values:
        raise ValidationError(
            {
                field: [
                    _("%(element)s: “%(value)s” is not one of %(choices)s.")
                    % {
                        "element": ELEMENT_LABELS.get(field, field),
                        "value": value,
                        "choices": "、".join(str(v) for v in choices.labels),
                    }
                ]
            }
        )
    return value


def _apply(record, data: dict[str, Any]) -> None:
    """Copy description values from ``data`` onto ``record`` (validated, not saved)."""
    for field in EDITABLE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field == "retention":
            try:
                value = retention_codes.parse(value) if value not in (None, "") else None
            except ValidationError as exc:
                raise ValidationError({field: exc.messages}) from exc
        elif field == "secrecy_period":
            value = parse_secrecy_period(value)
        elif field == "classification":
            value = _choice(field, value, Classification)
            value = Classification.NONE if value is None else value
        elif field == "access_status":
            value = _choice(field, value, AccessStatus)
        elif field == "carrier":
            value = _choice(field, value, Carrier) or Carrier.PAPER
        elif field in ("pages", "filing_year"):
            if value in (None, ""):
                value = None
            else:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise ValidationError(
                        {field: [_("“%(value)s” is not a whole number.") % {"value": value}]}
                    ) from None
                if value < 0 or (field == "filing_year" and not 1000 <= value <= 2999):
                    raise ValidationError(
                        {field: [_("“%(value)s” is out of range.") % {"value": value}]}
                    )
        elif isinstance(value, str):
            value = value.strip()
        elif value is None:
            value = ""
        setattr(record, field, value)
    if "date" in data:
        try:
            parsed = dates.parse(data["date"])
        except ValidationError as exc:
            raise ValidationError({"date": exc.messages}) from exc
        record.date_start, record.date_end = parsed.start, parsed.end
        record.date_inferred = parsed.inferred
        if parsed.start is not None:
            record.date_precision = parsed.precision
    for field in ("date_start", "date_end"):
        if field in data and "date" not in data:
            setattr(record, field, data[field])


def _check(record, before: dict | None = None) -> None:
    fields = ("title", "access_status", "retention", "creator", "legacy_values")
    values = {f: getattr(record, f, None) for f in fields}
    values.update(
        reference_code=record.reference_code,
        filing_year=record.filing_year,
        date_start=record.date_start,
        classification=record.classification,
    )
    check_mandatory(kind_of(record), values, before)
    if record.category.fonds_id != record.fonds_id:
        raise ValidationError({"category": [_("The category belongs to another fonds.")]})
    volume = getattr(record, "volume", None)
    if volume is not None and (
        volume.fonds_id != record.fonds_id or volume.category_id != record.category_id
    ):
        raise ValidationError({"volume": [_("The volume belongs to another fonds or category.")]})
    if record.access_status == AccessStatus.OPEN and record.classification != Classification.NONE:
        raise ValidationError({"access_status": [_("A classified record cannot be open.")]})
    try:
        record.full_clean(
            exclude=["fonds", "category", "volume", "position", "box"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _resolve(model, value, *, user=None):
    """The object ``value`` names (an instance or a primary key). With ``user``, it must pass
    the record door: a parent the user may not see is "no such" exactly like a missing one."""
    if value is None:
        return value
    pk = value.pk if isinstance(value, model) else value
    qs = model.objects.all() if user is None else model.objects.visible_to(user)
    try:
        found = qs.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise ValidationError(
            {model._meta.model_name: [_("No such %(what)s.") % {"what": model._meta.verbose_name}]}
        ) from None
    return value if isinstance(value, model) else found


def build_record(
    kind: str, data: dict[str, Any], *, acting_user, check_unique: bool = True, taken=None
) -> Volume | Item:
    """A new, validated, unsaved record (``create_record`` and the importer share this).

    ``taken(prefix)`` lists extra codes already claimed (e.g. earlier rows of an import) when a
    code is generated; ``check_unique=False`` leaves the uniqueness check to the caller (the
    importer checks a whole batch in one query).
    """
    model = KINDS[kind]
    fonds = _resolve(Fonds, data.get("fonds"))
    category = _resolve(Category, data.get("category"))
    if fonds is None or category is None:
        raise ValidationError({"category": [_("A fonds and a category are required.")]})
    record: Any = model(fonds=fonds, category=category)  # a Volume or an Item
    if kind == "item":
        record.volume = _resolve(Volume, data.get("volume"), user=acting_user)
        if data.get("sequence") not in (None, ""):
            try:
                record.sequence = int(data["sequence"])
            except (TypeError, ValueError):
                raise ValidationError(
                    {
                        "sequence": [
                            _("“%(value)s” is not a whole number.") % {"value": data["sequence"]}
                        ]
                    }
                ) from None
    _apply(record, data)
    if record.access_status is None:
        record.access_status = AccessStatus.UNREVIEWED
    if record.retention is None:
        record.retention = ""
    _require_change(acting_user, fonds, record.classification)
    code = (data.get("reference_code") or "").strip()
    if not code and record.title and record.retention:
        year = record.filing_year or (record.date_start.year if record.date_start else None)
        if year:
            template = codes.template_for(
                fonds, kind, in_volume=record.volume_id is not None if kind == "item" else False
            )
            values = codes.record_values(record)
            try:
                code = codes.next_code(
                    template,
                    values,
                    taken_codes_with_prefix=lambda p: (
                        _codes_with_prefix(p) + (list(taken(p)) if taken else [])
                    ),
                )
            except ValidationError as exc:
                raise ValidationError({"reference_code": exc.messages}) from exc
    record.reference_code = code
    _check(record)
    if check_unique:
        validate_reference_code(record, code, user=acting_user)
    else:
        validate_code_segments(record, code)
    return record


@transaction.atomic
def create_record(kind: str, data: dict[str, Any], *, acting_user) -> Volume | Item:
    """Describe a new volume or item. An empty ``reference_code`` assigns the next one."""
    record = build_record(kind, data, acting_user=acting_user)
    record.save()
    record_event(
        f"repository.{kind}.created", acting_user=acting_user, obj=record, after=snapshot(record)
    )
    enqueue(record)
    return record


@transaction.atomic
def update_record(record, changes: dict[str, Any], *, acting_user):
    """Change description elements. The reference code changes only by ``renumber_record``."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    _require_change(acting_user, record.fonds, record.classification)
    if "reference_code" in changes and changes["reference_code"] != record.reference_code:
        raise ValidationError(
            {
                "reference_code": [
                    _("Reference codes are stable: renumber the record explicitly instead.")
                ]
            }
        )
    before = snapshot(record)
    _apply(record, changes)
    _require_change(acting_user, record.fonds, record.classification)
    _check(record, before)
    after = snapshot(record)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if not changed:
        return record
    record.version += 1
    record.save()
    record_event(
        f"repository.{kind_of(record)}.updated",
        acting_user=acting_user,
        obj=record,
        before={k: before[k] for k in changed},
        after=changed,
    )
    enqueue(record)
    return record


@transaction.atomic
def delete_record(record, *, acting_user) -> None:
    record = type(record).objects.select_for_update().get(pk=record.pk)
    _require_change(acting_user, record.fonds, record.classification)
    if isinstance(record, Volume) and record.items.exists():
        if acting_user is None or record.items.visible_to(acting_user).exists():
            raise ValidationError(_("The volume still holds items; move or delete them first."))
        # Only items the user may not see: refuse without confirming them.
        raise ValidationError(_("You cannot delete this volume."))
    record_event(
        f"repository.{kind_of(record)}.deleted",
        acting_user=acting_user,
        obj=record,
        before=snapshot(record),
    )
    record.version += 1
    enqueue(record, deleted=True)
    record.pages_digitised.all().delete()
    record.reviews.all().delete()
    record.moves.all().delete()
    try:
        record.delete()
    except ProtectedError:  # lent or requested: a refusal, not a 500 (the atomic rolls back)
        raise ValidationError(
            _("The record is named in access requests or loans; it cannot be deleted."),
            code="record_in_use",
        ) from None


@transaction.atomic
def renumber_record(record, new_code: str, *, acting_user, reason: str):
    """Give a record a new reference code: explicit, audited old → new (volumes carry their
    items' codes along when those are built on the volume code)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    _require_change(acting_user, record.fonds, record.classification)
    new_code = (new_code or "").strip()
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Give a reason for renumbering.")]})
    old = record.reference_code
    if new_code == old:
        raise ValidationError({"reference_code": [_("The new code is the same as the old one.")]})
    renamed = [(record, old, new_code)]
    if isinstance(record, Volume):
        children = [
            item for item in record.items.select_for_update() if item.reference_code.startswith(old)
        ]
        if acting_user is not None and (
            Item.objects.hidden_from(acting_user).filter(pk__in=[c.pk for c in children]).exists()
        ):
            # Renumbering would change records the user may not see: refused whole, naming
            # none of them (before any other check, so that no message depends on them).
            raise ValidationError(
                {"reference_code": [_("You cannot renumber this volume with your permissions.")]}
            )
        validate_reference_code(record, new_code, user=acting_user)
        for item in children:
            child = new_code + item.reference_code[len(old) :]
            message = code_taken_message(child, user=acting_user, exclude=item)
            if message:
                raise ValidationError({"reference_code": [message]})
            renamed.append((item, item.reference_code, child))
    else:
        validate_reference_code(record, new_code, user=acting_user)
    for obj, before, after in renamed:
        obj.reference_code = after
        obj.version += 1
        obj.save(update_fields=["reference_code", "version", "updated_at"])
        record_event(
            f"repository.{kind_of(obj)}.renumbered",
            acting_user=acting_user,
            obj=obj,
            before={"reference_code": before},
            after={"reference_code": after},
            note=reason.strip(),
        )
        enqueue(obj)
    return record


def record_classified_view(record, *, acting_user, ip_address: str | None = None) -> None:
    """Audit a view of a classified record (every door that shows one calls this)."""
    if record.classification > Classification.NONE:
        record_event(
            f"repository.{kind_of(record)}.viewed",
            acting_user=acting_user,
            obj=record,
            ip_address=ip_address,
            after={"classification": record.classification},
        )


def record_export(*, acting_user, kind: str, query: dict, fmt: str) -> None:
    """Audit an export (it may list classified records the user is cleared for)."""
    record_event(
        "repository.catalogue.exported",
        acting_user=acting_user,
        after={"kind": kind, "format": fmt, "filters": query},
    )


# --- Opening review (开放审核) -------------------------------------------------------------


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def review_queue_for(model, *, today: dt.date | None = None, categories=None):
    """Records of ``model`` that reached their opening age and are not open, oldest first."""
    today = today or timezone.localdate()
    due = Q(pk__in=[])
    for category_id, age in (categories or Category.objects).values_list("id", "opening_age_years"):
        cutoff = _years_before(today, age)
        due |= Q(category_id=category_id) & (
            Q(date_end__lte=cutoff) | Q(date_end__isnull=True, filing_year__lte=cutoff.year - 1)
        )
    return (
        model.objects.exclude(access_status=AccessStatus.OPEN)
        .filter(due)
        .filter(Q(next_review_on__isnull=True) | Q(next_review_on__lte=today))
        .order_by("date_end", "id")
    )


@transaction.atomic
def decide_opening(
    record,
    decision: str,
    *,
    acting_user,
    reason: str = "",
    next_review_on: dt.date | None = None,
    withheld_pages=(),
) -> OpeningReview:
    """Record an opening decision: open / keep controlled (reason + next review date) / open
    in part (the listed digitised pages stay withheld). Opening takes effect everywhere at once
    (every door reads ``access_status`` through ``visible_to``; search gets an outbox row)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    _require_change(acting_user, record.fonds, record.classification)
    reason = (reason or "").strip()
    if decision not in OpeningDecision.values:
        raise ValidationError({"decision": [_("Unknown decision.")]})
    pages = sorted({int(p) for p in withheld_pages or ()})
    if (
        decision in (OpeningDecision.OPEN, OpeningDecision.PARTIAL)
        and record.classification != Classification.NONE
    ):
        raise ValidationError(
            {"decision": [_("A classified record cannot be opened; declassify it first.")]}
        )
    if decision == OpeningDecision.CONTROLLED:
        errors = {}
        if not reason:
            errors["reason"] = [_("Give the reason for keeping the record controlled.")]
        if next_review_on is None:
            errors["next_review_on"] = [_("Give the date of the next review.")]
        elif next_review_on <= timezone.localdate():
            errors["next_review_on"] = [_("The next review date must be in the future.")]
        if errors:
            raise ValidationError(errors)
    if decision == OpeningDecision.PARTIAL:
        if not pages:
            raise ValidationError(
                {"withheld_pages": [_("List the pages that stay closed when opening in part.")]}
            )
        if not reason:
            raise ValidationError({"reason": [_("Give the reason for withholding pages.")]})
    before = {"access_status": record.access_status, "next_review_on": record.next_review_on}
    if decision == OpeningDecision.CONTROLLED:
        record.access_status = AccessStatus.CONTROLLED
        record.next_review_on = next_review_on
    else:
        record.access_status = AccessStatus.OPEN
        record.next_review_on = None
    record.pages_digitised.update(withheld=False)
    if pages:
        record.pages_digitised.filter(page_number__in=pages).update(withheld=True)
    record.version += 1
    record.save(update_fields=["access_status", "next_review_on", "version", "updated_at"])
    review = OpeningReview.objects.create(
        **{kind_of(record): record},
        decision=decision,
        reason=reason,
        next_review_on=record.next_review_on,
        withheld_pages=pages,
        decided_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    record_event(
        "repository.opening.decided",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={
            "decision": decision,
            "access_status": record.access_status,
            "next_review_on": record.next_review_on,
            "withheld_pages": pages,
        },
        note=reason,
    )
    enqueue(record)
    return review


# --- Locations ----------------------------------------------------------------------------


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


@transaction.atomic
def move_record(subject, to_position, *, acting_user, reason: str) -> Move:
    """Move a volume, item or box to a position (or off the shelf with ``None``), recording
    from, to, who, when and why. Refuses a full or unknown position; changes nothing then.
    A box goes through ``repository.boxes.move_box`` (its contents move along)."""
    if isinstance(subject, Box):
        return move_box(subject, to_position, acting_user=acting_user, reason=reason)
    reason = required_reason(reason, _("Give the reason for the move."))
    target = resolve_position(to_position) if to_position not in (None, "") else None
    model = type(subject)
    subject = model.objects.select_for_update().get(pk=subject.pk)
    require_move(acting_user, subject)
    source = subject.position
    if target is not None:
        target = Position.objects.select_for_update().select_related("room").get(pk=target.pk)
        if source is not None and source.pk == target.pk:
            raise ValidationError(
                {"to_position": [_("It is already at %(code)s.") % {"code": target.code}]}
            )
        used = position_occupancy(target)
        if used >= target.capacity:
            raise ValidationError(
                {
                    "to_position": [
                        _("Position %(code)s is full (%(used)d of %(capacity)d places taken).")
                        % {"code": target.code, "used": used, "capacity": target.capacity}
                    ]
                }
            )
    subject.position = target
    changed = []
    if subject.box_id is not None:
        subject.box = None  # taken out of its box
    subject.version += 1
    subject.save(update_fields=["position", "box", "version", "updated_at"])
    enqueue(subject)
    if isinstance(subject, Volume):
        changed += list(subject.items.select_for_update())
    for record in changed:
        record.position = target
        record.version += 1
        record.save(update_fields=["position", "version", "updated_at"])
        enqueue(record)
    move = Move.objects.create(
        **{model._meta.model_name: subject},
        from_position=source,
        to_position=target,
        moved_by=acting_user if acting_user and acting_user.is_authenticated else None,
        reason=reason,
    )
    record_event(
        f"repository.{model._meta.model_name}.moved",
        acting_user=acting_user,
        obj=subject,
        before={"position": source.code if source else None},
        after={"position": target.code if target else None},
        note=reason,
    )
    return move


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
    units: dict[int, dict[str, Any]] = {
        u.pk: {"unit": u, "capacity": 0, "used": 0}
        for u in ShelvingUnit.objects.filter(room=room).order_by("code")
    }
    for row in (
        Position.objects.filter(room=room).values("unit_id").annotate(capacity=Sum("capacity"))
    ):
        units[row["unit_id"]]["capacity"] = row["capacity"] or 0
    counted = (
        Volume.objects.filter(position__room=room, box__isnull=True),
        Item.objects.filter(position__room=room, box__isnull=True, volume__isnull=True),
        Box.objects.filter(position__room=room),
    )
    for qs in counted:
        for row in qs.values("position__unit_id").annotate(n=Count("id")):
            units[row["position__unit_id"]]["used"] += row["n"]
    capacity = sum(u["capacity"] for u in units.values())
    used = sum(u["used"] for u in units.values())
    return {
        "room": room,
        "capacity": capacity,
        "used": used,
        "percent": round(100 * used / capacity, 1) if capacity else 0.0,
        "units": list(units.values()),
    }


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
