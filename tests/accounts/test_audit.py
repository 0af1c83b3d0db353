import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction

from accounts.audit import record_event
from accounts.models import AuditLog
from tests.gates import require_postgresql


@pytest.fixture
def entry(admin_user):
    return record_event(
        "tests.thing.changed",
        acting_user=admin_user,
        obj=admin_user,
        before={"title": "旧题名"},
        after={"title": "新题名"},
    )


def test_record_event_writes_who_what_before_after(entry, admin_user):
    row = AuditLog.objects.get(pk=entry.pk)
    assert row.actor == admin_user
    assert row.actor_repr == "admin"
    assert row.action == "tests.thing.changed"
    assert row.object_id == str(admin_user.pk)
    assert row.before == {"title": "旧题名"}
    assert row.after == {"title": "新题名"}
    assert row.at is not None
    assert list(AuditLog.objects.for_object(admin_user)) == [row]


def test_system_actions_are_recorded_as_system(db):
    row = record_event("tests.system.tick", acting_user=None)
    assert row.actor is None and row.actor_repr == "system"


def test_audit_rows_cannot_be_edited_through_the_model(entry):
    entry.action = "tampered"
    with pytest.raises(PermissionDenied):
        entry.save()
    with pytest.raises(PermissionDenied):
        entry.delete()
    assert AuditLog.objects.get(pk=entry.pk).action == "tests.thing.changed"


def test_audit_rows_cannot_be_edited_through_querysets(entry):
    with pytest.raises(PermissionDenied):
        AuditLog.objects.filter(pk=entry.pk).update(action="tampered")
    with pytest.raises(PermissionDenied):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_postgresql_trigger_refuses_raw_update_and_delete(entry):
    require_postgresql()
    for sql in (
        "UPDATE accounts_auditlog SET action = 'tampered' WHERE id = %s",
        "DELETE FROM accounts_auditlog WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    assert AuditLog.objects.get(pk=entry.pk).action == "tests.thing.changed"


def test_deleting_a_user_keeps_their_audit_rows(entry, admin_user):
    admin_user.delete()
    row = AuditLog.objects.get(pk=entry.pk)
    assert row.actor_repr == "admin"


def test_admin_offers_no_change_or_delete(client_for, admin_user, entry):
    client = client_for(admin_user)
    response = client.get(f"/staff/admin/accounts/auditlog/{entry.pk}/delete/")
    assert response.status_code in (302, 403, 404)
    response = client.post(
        f"/staff/admin/accounts/auditlog/{entry.pk}/change/", {"action": "tampered"}
    )
    assert response.status_code in (302, 403, 404)
    assert AuditLog.objects.get(pk=entry.pk).action == "tests.thing.changed"
