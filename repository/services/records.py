"""Describing records: build, create, update and delete volumes and items (validated,
audited, pushed to the search outbox); audit rows for classified views and exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Classification
from core.outbox import enqueue
from repository import codes, dates
from repository import retention as retention_codes
from repository.choices import AccessStatus, Carrier, Retention
from repository.models import Category, Fonds, Item, Volume
from repository.services.classification import secrecy_from_text, set_secrecy_term, set_secrecy_text
from repository.services.fields import (
    EDITABLE_FIELDS,
    KINDS,
    SECRECY_ELEMENT,
    kind_of,
    require_change,
    snapshot,
)
from repository.services.opening import opening_rule_error
from repository.services.reference_codes import (
    codes_with_prefix,
    validate_code_segments,
    validate_reference_code,
)
from repository.validation import ELEMENT_LABELS, check_mandatory


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


def retention_years(code: str) -> float | None:
    """保管期限 as a length for comparisons: 永久 is infinite, ``D<n>`` is n years; a legacy
    value (长期/短期) has no length (not compared)."""
    if code == Retention.PERMANENT:
        return float("inf")
    years = retention_codes.years(code)
    return float(years) if years is not None else None


def _check_volume_rule(record) -> None:
    """A volume's 密级 and 保管期限 are at least those of its items — enforced, never derived
    silently (DA/T 18-2022 and practice: 案卷 carries the highest 密级 and the longest
    保管期限 of its contents). Putting a classified item into a volume of a lower level, or
    lowering a volume below an item, is refused; the volume is classified first."""
    volume = getattr(record, "volume", None)
    if isinstance(record, Item) and volume is not None:
        if int(record.classification) > int(volume.classification):
            raise ValidationError(
                {
                    "classification": [
                        _(
                            "The volume %(code)s is %(volume_level)s; an item classified "
                            "%(item_level)s cannot be in it. Classify the volume first (a "
                            "volume carries the highest classification of its items)."
                        )
                        % {
                            "code": volume.reference_code,
                            "volume_level": volume.get_classification_display(),
                            "item_level": record.get_classification_display(),
                        }
                    ]
                }
            )
        mine, theirs = retention_years(record.retention), retention_years(volume.retention)
        if mine is not None and theirs is not None and mine > theirs:
            raise ValidationError(
                {
                    "retention": [
                        _(
                            "The volume %(code)s is kept %(volume_retention)s; an item kept "
                            "%(item_retention)s cannot be in it (a volume carries the longest "
                            "retention of its items)."
                        )
                        % {
                            "code": volume.reference_code,
                            "volume_retention": retention_codes.label(volume.retention),
                            "item_retention": retention_codes.label(record.retention),
                        }
                    ]
                }
            )
    if isinstance(record, Volume) and record.pk:
        items = Item.objects.filter(volume_id=record.pk)
        top = items.order_by("-classification").values_list("classification", flat=True).first()
        if top is not None and int(top) > int(record.classification):
            raise ValidationError(
                {
                    "classification": [
                        _("The volume holds items classified %(level)s; it cannot be below them.")
                        % {"level": Classification(int(top)).label}
                    ]
                }
            )
        mine = retention_years(record.retention)
        for code in items.values_list("retention", flat=True).distinct():
            theirs = retention_years(code)
            if mine is not None and theirs is not None and theirs > mine:
                raise ValidationError(
                    {
                        "retention": [
                            _(
                                "The volume holds items kept longer (%(retention)s); its "
                                "retention cannot be shorter."
                            )
                            % {"retention": retention_codes.label(code)}
                        ]
                    }
                )


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
    if (
        record.access_status in (AccessStatus.OPEN, AccessStatus.PARTIAL)
        and record.classification != Classification.NONE
    ):
        raise ValidationError({"access_status": [_("A classified record cannot be open.")]})
    _check_volume_rule(record)
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
    kind: str,
    data: dict[str, Any],
    *,
    acting_user,
    check_unique: bool = True,
    taken=None,
    door: str | None = None,
) -> Volume | Item:
    """A new, validated, unsaved record (``create_record`` and the importer share this).
    A new record is 未审核: only an opening decision sets another 开放标识 (the importer keeps
    a catalogue's status as an imported decision, ``opening.imported_decisions``).

    ``taken(prefix)`` lists extra codes already claimed (e.g. earlier rows of an import) when a
    code is generated; ``check_unique=False`` leaves the uniqueness check to the caller (the
    importer checks a whole batch in one query).
    """
    model = KINDS[kind]
    if data.get("access_status") not in (None, "", AccessStatus.UNREVIEWED):
        raise opening_rule_error(door or _("describing a record"))
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
    require_change(acting_user, fonds, record.classification)
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
                        codes_with_prefix(p) + (list(taken(p)) if taken else [])
                    ),
                )
            except ValidationError as exc:
                raise ValidationError({"reference_code": exc.messages}) from exc
    record.reference_code = code
    _check(record)
    # 保密期限: checked now (parser, 非密, 保密法 limits, volume rule), written into the
    # SecrecyTerm once the record is saved (``save_secrecy``).
    record._secrecy = secrecy_from_text(record, data.get(SECRECY_ELEMENT))
    if check_unique:
        validate_reference_code(record, code, user=acting_user)
    else:
        validate_code_segments(record, code)
    return record


@transaction.atomic
def create_record(
    kind: str, data: dict[str, Any], *, acting_user, door: str | None = None
) -> Volume | Item:
    """Describe a new volume or item. An empty ``reference_code`` assigns the next one."""
    record = build_record(kind, data, acting_user=acting_user, door=door)
    record.save()
    record_event(
        f"repository.{kind}.created", acting_user=acting_user, obj=record, after=snapshot(record)
    )
    save_secrecy(record, acting_user=acting_user)
    enqueue(record)
    return record


@transaction.atomic
def update_record(record, changes: dict[str, Any], *, acting_user, door: str | None = None):
    """Change description elements. The reference code changes only by ``renumber_record``,
    the 开放标识 only by an opening decision, a lower 密级 only by a declassification."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    if "access_status" in changes and changes["access_status"] not in (
        None,
        "",
        record.access_status,
    ):
        raise opening_rule_error(door or _("editing the description"))
    if "classification" in changes and changes["classification"] not in (None, ""):
        try:
            lower = int(changes["classification"]) < int(record.classification)
        except (TypeError, ValueError):
            lower = False
        if lower:
            raise ValidationError(
                {
                    "classification": [
                        _(
                            "Lowering or removing a classification is a declassification "
                            "decision (basis, deciding authority, date; Law on Guarding State "
                            "Secrets, art. 24); %(door)s cannot do it."
                        )
                        % {"door": door or _("editing the description")}
                    ]
                }
            )
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
    require_change(acting_user, record.fonds, record.classification)
    _check(record, before)
    after = snapshot(record)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
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
    if SECRECY_ELEMENT in changes:
        # After the classification is saved: 非密 → 秘密 with 10年 in one form is fine.
        set_secrecy_text(record, changes[SECRECY_ELEMENT], acting_user=acting_user)
    return record


def save_secrecy(record, *, acting_user) -> None:
    """Write the 保密期限 ``build_record`` checked into the saved record's SecrecyTerm (through
    the classification service, audited)."""
    values = getattr(record, "_secrecy", None)
    if values:
        set_secrecy_term(record, acting_user=acting_user, **values)
        record._secrecy = None


def draft_window() -> dt.timedelta:
    return dt.timedelta(minutes=int(settings.DRAFT_DELETE_WINDOW_MINUTES))


def is_removable_draft(record) -> bool:
    """A record described by mistake: young (within ``DRAFT_DELETE_WINDOW_MINUTES``), never
    reviewed, moved, scanned, appraised or declassified, and (a volume) empty."""
    if record.created_at is None or timezone.now() - record.created_at > draft_window():
        return False
    return not (
        record.reviews.exists()
        or record.moves.exists()
        or record.pages_digitised.exists()
        or record.appraisals.exists()
        or record.declassifications.exists()
        or (isinstance(record, Volume) and record.items.exists())
    )


@transaction.atomic
def delete_record(record, *, acting_user) -> None:
    """Remove a draft created by mistake (audited). Described records are never hard-deleted
    (档案法 2020 第二十一条: no destruction without appraisal): anything older than the window,
    or with any history, is refused and goes through appraisal and destruction instead."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    if isinstance(record, Volume) and record.items.exists():
        if acting_user is None or record.items.visible_to(acting_user).exists():
            raise ValidationError(_("The volume still holds items; move or delete them first."))
        # Only items the user may not see: refuse without confirming them.
        raise ValidationError(_("You cannot delete this volume."))
    if not is_removable_draft(record):
        raise ValidationError(
            _(
                "Described records are never deleted (Archives Law 2020, art. 21): only a draft "
                "created by mistake may be removed within %(minutes)s minutes. A record whose "
                "retention has run out goes to appraisal and destruction."
            )
            % {"minutes": int(draft_window().total_seconds() // 60)},
            code="not_a_draft",
        )
    record_event(
        f"repository.{kind_of(record)}.deleted",
        acting_user=acting_user,
        obj=record,
        before=snapshot(record),
        note="draft",
    )
    record.version += 1
    enqueue(record, deleted=True)
    try:
        record.delete()
    except ProtectedError:  # lent or requested: a refusal, not a 500 (the atomic rolls back)
        raise ValidationError(
            _("The record is named in access requests or loans; it cannot be deleted."),
            code="record_in_use",
        ) from None


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
