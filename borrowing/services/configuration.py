"""What an administrator configures for use services: the settings row (reading-room closing
time, lending period and its approval steps, copy limit, certificate prefix, the archive's
name, the fonds listed metadata-only) and the list of purposes (利用目的). Every write is
validated and audited with before/after."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from accounts.roles import can_administer
from borrowing.models import AccessSettings, UsePurpose
from borrowing.services.common import BorrowingError, NotAllowed, fail

SETTINGS_FIELDS = (
    "archive_name",
    "reading_room_closes",
    "lending_days",
    "lending_max_days",
    "lending_steps",
    "max_copy_pages",
    "certificate_prefix",
)
PURPOSE_FIELDS = ("code", "name", "position", "active")


def _require_administrator(acting_user: User) -> None:
    if not can_administer(acting_user):
        fail(NotAllowed, _("Only an administrator changes the access settings."), "not_allowed")


def _validated(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:  # the model's own checks: named, nothing written
        fail(BorrowingError, "; ".join(exc.messages), "invalid")


@transaction.atomic
def update_access_settings(
    *, acting_user: User, values: dict[str, Any], metadata_fonds: list | None = None
) -> AccessSettings:
    """Change the settings row; audited with the fields that changed."""
    _require_administrator(acting_user)
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not access settings fields: {sorted(unknown)}")
    AccessSettings.current()
    row = AccessSettings.objects.select_for_update().get(pk=1)
    before = {field: getattr(row, field) for field in SETTINGS_FIELDS}
    before["metadata_fonds"] = sorted(row.metadata_fonds.values_list("code", flat=True))
    for field, value in values.items():
        setattr(row, field, value)
    if row.lending_days > row.lending_max_days:
        fail(
            BorrowingError,
            _("The lending period cannot exceed the longest lending period."),
            "lending_days",
        )
    if not 1 <= row.lending_steps <= 3:
        fail(BorrowingError, _("Lending needs one to three approval steps."), "lending_steps")
    _validated(row)
    row.save()
    if metadata_fonds is not None:
        row.metadata_fonds.set(metadata_fonds)
    after = {field: getattr(row, field) for field in SETTINGS_FIELDS}
    after["metadata_fonds"] = sorted(row.metadata_fonds.values_list("code", flat=True))
    changed = [key for key in after if before[key] != after[key]]
    if changed:
        record_event(
            "borrowing.settings.changed",
            acting_user=acting_user,
            obj=row,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    return row


@transaction.atomic
def save_use_purpose(
    purpose: UsePurpose | None, *, acting_user: User, values: dict[str, Any]
) -> UsePurpose:
    """Add (``purpose=None``) or change a purpose of use. Purposes are never deleted (past
    requests and statistics name them): an unused one is withdrawn (``active=False``)."""
    _require_administrator(acting_user)
    unknown = set(values) - set(PURPOSE_FIELDS)
    if unknown:
        raise ValueError(f"not purpose fields: {sorted(unknown)}")
    if purpose is None or purpose.pk is None:
        row = UsePurpose(**values)
        before: dict[str, Any] = {}
    else:
        row = UsePurpose.objects.select_for_update().get(pk=purpose.pk)
        before = {field: getattr(row, field) for field in PURPOSE_FIELDS}
        for field, value in values.items():
            setattr(row, field, value)
    _validated(row)
    row.save()
    after = {field: getattr(row, field) for field in PURPOSE_FIELDS}
    record_event(
        "borrowing.purpose.saved",
        acting_user=acting_user,
        obj=row,
        before=before or None,
        after=after,
    )
    return row


def offered_purposes():
    return UsePurpose.objects.filter(active=True)
