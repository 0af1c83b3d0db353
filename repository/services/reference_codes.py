"""Reference codes (档号) of records: segment and uniqueness checks, refusals that name no hidden
record, and explicit, audited renumbering."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from core.outbox import enqueue
from repository import codes
from repository.models import Item, Tombstone, Volume
from repository.services.fields import kind_of, require_change


def codes_with_prefix(prefix: str) -> list[str]:
    """Codes taken under ``prefix``: by records and by the tombstones of destroyed ones (a
    destroyed record's 档号 is never given again: its 销毁清册 names it)."""
    found: list[str] = []
    for model in (Volume, Item, Tombstone):
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
        if Tombstone.objects.filter(reference_code=code).exists():
            return _(
                "The reference code %(code)s belonged to a destroyed record; choose another."
            ) % {"code": code}
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


@transaction.atomic
def renumber_record(record, new_code: str, *, acting_user, reason: str):
    """Give a record a new reference code: explicit, audited old → new (volumes carry their
    items' codes along when those are built on the volume code)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
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
