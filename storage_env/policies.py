"""Changing a room's climate policy: set points (选定温、湿度, JGJ 25-2010 §5.2.3) and band
overrides, checked against the band and audited."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from repository.models import StoreRoom
from storage_env.models import ClimatePolicy, set_point_errors
from storage_env.roles import can_watch_climate

# Field → (lowest, highest) plausible value: a typo (200 °C) is refused before the band check.
EDITABLE = {
    "temp_set": (-40.0, 60.0),
    "rh_set": (0.0, 100.0),
    "temp_min": (-40.0, 60.0),
    "temp_max": (-40.0, 60.0),
    "rh_min": (0.0, 100.0),
    "rh_max": (0.0, 100.0),
}


def _number(field: str, value: Any) -> float | None:
    """``None``/"" clears the override (the template's value, or the band's middle)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip().replace("，", ".").replace(",", "."))
    except ValueError:
        raise ValidationError({field: [_("Enter a number.")]}) from None
    low, high = EDITABLE[field]
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationError(
            {field: [_("Enter a value from %(low)s to %(high)s.") % {"low": low, "high": high}]}
        )
    return round(number, 2)


@transaction.atomic
def update_climate_policy(
    room: StoreRoom, *, acting_user, changes: dict[str, Any], note: str = ""
) -> ClimatePolicy:
    """Apply ``changes`` (any of EDITABLE; None or "" = back to the default) to the room's
    policy. Refused (ValidationError, per field) when a set point falls outside the effective
    band or the band is empty; PermissionDenied for users who do not keep climate. One audit
    row with the fields before and after; nothing written when nothing changes."""
    if acting_user is not None and not can_watch_climate(acting_user):
        raise PermissionDenied
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError({key: [_("This setting cannot be changed here.")] for key in unknown})
    values: dict[str, float | None] = {}
    errors: dict[str, list[str]] = {}
    for key, raw in changes.items():
        try:
            values[key] = _number(key, raw)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    room = StoreRoom.objects.get(pk=room.pk)
    policy, _created = ClimatePolicy.objects.select_for_update().get_or_create(room=room)
    before = {key: getattr(policy, key) for key in EDITABLE}
    for key, value in values.items():
        setattr(policy, key, value)
    problems = set_point_errors(room.template, policy)
    if problems:
        raise ValidationError(problems)
    after = {key: getattr(policy, key) for key in EDITABLE}
    changed = [key for key in EDITABLE if before[key] != after[key]]
    if not changed:
        return policy
    policy.save(update_fields=changed)
    record_event(
        "storage_env.policy.updated",
        acting_user=acting_user,
        obj=policy,
        before={key: before[key] for key in changed},
        after={key: after[key] for key in changed},
        note=note[:500],
    )
    return policy
