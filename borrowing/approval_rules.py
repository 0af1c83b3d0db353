"""The approval rule table (configuration) is written here only: administrators add, change and
delete rows; every write is validated like the model and audited with before/after."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts.audit import record_event
from accounts.roles import can_administer
from borrowing.models import ApprovalRule

RULE_FIELDS = (
    "priority",
    "min_classification",
    "access_status",
    "method",
    "role",
    "steps",
    "description",
)


def _require_administrator(acting_user) -> None:
    if not can_administer(acting_user):
        raise PermissionDenied


def _values(rule: ApprovalRule) -> dict[str, Any]:
    return {field: getattr(rule, field) for field in RULE_FIELDS}


@transaction.atomic
def save_approval_rule(
    rule: ApprovalRule | None, *, acting_user, values: dict[str, Any]
) -> ApprovalRule:
    """Add a rule (``rule=None``) or change one; audited with the fields that changed."""
    _require_administrator(acting_user)
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not approval rule fields: {sorted(unknown)}")
    if rule is None or rule.pk is None:
        rule = ApprovalRule(**values)
        rule.full_clean()
        rule.save()
        record_event(
            "borrowing.approval_rule.created",
            acting_user=acting_user,
            obj=rule,
            after=_values(rule),
        )
        return rule
    locked = ApprovalRule.objects.select_for_update().get(pk=rule.pk)
    before = _values(locked)
    for field, value in values.items():
        setattr(locked, field, value)
    locked.full_clean()
    after = _values(locked)
    changed = [field for field in RULE_FIELDS if before[field] != after[field]]
    if not changed:
        return locked
    locked.save(update_fields=changed)
    record_event(
        "borrowing.approval_rule.changed",
        acting_user=acting_user,
        obj=locked,
        before={field: before[field] for field in changed},
        after={field: after[field] for field in changed},
    )
    return locked


@transaction.atomic
def delete_approval_rule(rule: ApprovalRule, *, acting_user) -> None:
    """Delete a rule; the audit row keeps the whole row. (With no rule left the built-in
    defaults apply, see ``borrowing.services``.)"""
    _require_administrator(acting_user)
    locked = ApprovalRule.objects.select_for_update().get(pk=rule.pk)
    record_event(
        "borrowing.approval_rule.deleted",
        acting_user=acting_user,
        obj=locked,
        before=_values(locked),
    )
    locked.delete()
