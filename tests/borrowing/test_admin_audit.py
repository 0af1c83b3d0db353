"""The approval rule table in the admin goes through borrowing.approval_rules: every add,
change (change form and list editing) and delete writes one audit row with before/after."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.choices import Role
from accounts.models import AuditLog, User
from accounts.permissions import role_group
from borrowing import approval_rules
from borrowing.models import ApprovalRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.org", "x-pass-2026", clearance=3)


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def rule(db):
    ApprovalRule.objects.all().delete()
    return ApprovalRule.objects.create(
        priority=10, min_classification=2, role="approver", steps=1, description="机密"
    )


def form_data(rule: ApprovalRule, **overrides) -> dict:
    data = {
        "priority": rule.priority,
        "min_classification": rule.min_classification,
        "access_status": rule.access_status,
        "method": rule.method,
        "role": rule.role,
        "steps": rule.steps,
        "description": rule.description,
    }
    data.update(overrides)
    return data


def audit(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("pk"))


def test_rule_changed_in_the_change_form_is_audited(root_client, root, rule):
    url = reverse("admin:borrowing_approvalrule_change", args=[rule.pk])
    response = root_client.post(url, form_data(rule, steps=2, description="机密以上"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.steps == 2
    (row,) = audit("borrowing.approval_rule.changed")
    assert row.actor == root and row.object_id == str(rule.pk)
    assert row.before == {"steps": 1, "description": "机密"}
    assert row.after == {"steps": 2, "description": "机密以上"}


def test_rule_changed_in_the_list_is_audited(root_client, rule):
    response = root_client.post(
        reverse("admin:borrowing_approvalrule_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": rule.pk,
            "form-0-min_classification": 3,
            "form-0-access_status": "",
            "form-0-method": "",
            "form-0-role": rule.role,
            "form-0-steps": 3,
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.min_classification, rule.steps) == (3, 3)
    (row,) = audit("borrowing.approval_rule.changed")
    assert row.before == {"min_classification": 2, "steps": 1}
    assert row.after == {"min_classification": 3, "steps": 3}


def test_rule_added_and_deleted_in_the_admin_are_audited(root_client, rule):
    response = root_client.post(
        reverse("admin:borrowing_approvalrule_add"), form_data(rule, priority=5, description="新")
    )
    assert response.status_code == 302
    added = ApprovalRule.objects.get(priority=5)
    (created,) = audit("borrowing.approval_rule.created")
    assert created.object_id == str(added.pk) and created.after["description"] == "新"
    url = reverse("admin:borrowing_approvalrule_delete", args=[added.pk])
    assert root_client.post(url, {"post": "yes"}).status_code == 302
    assert not ApprovalRule.objects.filter(pk=added.pk).exists()
    (deleted,) = audit("borrowing.approval_rule.deleted")
    assert deleted.before["priority"] == 5 and deleted.object_id == str(added.pk)


def test_bulk_delete_in_the_admin_is_audited_per_rule(root_client, rule):
    response = root_client.post(
        reverse("admin:borrowing_approvalrule_changelist"),
        {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ApprovalRule.objects.exists()
    (row,) = audit("borrowing.approval_rule.deleted")
    assert row.before["description"] == "机密"


def test_only_administrators_write_rules(rule):
    keeper = User.objects.create_user("keeper1", password="x-pass-2026")
    keeper.groups.set([role_group(Role.KEEPER)])
    with pytest.raises(PermissionDenied):
        approval_rules.save_approval_rule(rule, acting_user=keeper, values={"steps": 3})
    with pytest.raises(PermissionDenied):
        approval_rules.delete_approval_rule(rule, acting_user=keeper)
    assert not AuditLog.objects.exists()


def test_an_invalid_rule_is_refused_and_not_audited(root, rule):
    with pytest.raises(ValidationError):
        approval_rules.save_approval_rule(rule, acting_user=root, values={"steps": 4})
    rule.refresh_from_db()
    assert rule.steps == 1 and not AuditLog.objects.exists()
