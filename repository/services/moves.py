"""Moving a record or a box between positions (or off the shelf), recorded and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from core.outbox import enqueue
from repository.boxes import move_box
from repository.models import Box, Move, Position, Volume
from repository.placement import position_occupancy, require_move, required_reason, resolve_position


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
