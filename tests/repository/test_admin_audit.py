"""Shelving units and boxes in the admin go through their services: same checks, same audit
row; what has no service there (changing a unit, moving or deleting a box) is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog, User
from accounts.permissions import role_group
from repository import boxes
from repository.models import Box, Position, ShelvingUnit

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.org", "x-pass-2026", clearance=3)


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


def audit(action: str, obj) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, object_id=str(obj.pk)).order_by("pk"))


UNIT = {
    "code": "07",
    "name": "7号密集架",
    "kind": "mobile",
    "columns": 3,
    "sections": 2,
    "layers": 4,
    "sides": 2,
    "position_capacity": 30,
}


def test_unit_added_in_admin_goes_through_the_service(root_client, root, room):
    response = root_client.post(
        reverse("admin:repository_shelvingunit_add"), {**UNIT, "room": room.pk}
    )
    assert response.status_code == 302
    unit = ShelvingUnit.objects.get(code="07")
    assert Position.objects.filter(unit=unit).count() == 3 * 2 * 4 * 2
    (row,) = audit("repository.unit.created", unit)
    assert row.actor == root and row.after["positions"] == 48


def test_unit_code_refused_by_the_service_comes_back_as_a_message(root_client, room):
    response = root_client.post(
        reverse("admin:repository_shelvingunit_add"), {**UNIT, "room": room.pk, "code": "7-7"}
    )
    assert response.status_code == 302
    assert '<li class="error">' in root_client.get(response["Location"]).content.decode()
    assert not ShelvingUnit.objects.exists()
    assert not AuditLog.objects.exists()


def test_unit_is_not_changed_or_deleted_in_the_admin(root_client, unit):
    change = reverse("admin:repository_shelvingunit_change", args=[unit.pk])
    response = root_client.post(change, {**UNIT, "room": unit.room_id, "name": "改名"})
    assert response.status_code == 403
    delete = reverse("admin:repository_shelvingunit_delete", args=[unit.pk])
    assert root_client.post(delete, {"post": "yes"}).status_code == 403
    unit.refresh_from_db()
    assert unit.name == "" and ShelvingUnit.objects.filter(pk=unit.pk).exists()


def test_box_added_in_admin_is_audited(root_client, fonds_a, room):
    response = root_client.post(
        reverse("admin:repository_box_add"),
        {"code": "J012-H-0001", "fonds": fonds_a.pk, "room": room.pk, "capacity": 20, "notes": ""},
    )
    assert response.status_code == 302
    box = Box.objects.get(code="J012-H-0001")
    (row,) = audit("repository.box.created", box)
    assert row.after["fonds"] == "J012" and row.after["room"] == "K01"


@pytest.fixture
def box(fonds_a, room):
    return boxes.create_box(acting_user=None, code="J012-H-0002", fonds=fonds_a, room=room)


def test_box_changed_in_admin_is_audited_before_after(root_client, root, box, fonds_b):
    response = root_client.post(
        reverse("admin:repository_box_change", args=[box.pk]),
        {"code": "J012-H-0009", "fonds": fonds_b.pk, "capacity": 12, "notes": "破损"},
    )
    assert response.status_code == 302
    box.refresh_from_db()
    assert (box.code, box.capacity, box.notes, box.fonds.code) == (
        "J012-H-0009",
        12,
        "破损",
        "J012",
    )
    (row,) = audit("repository.box.updated", box)
    assert row.actor == root
    assert row.before == {"code": "J012-H-0002", "capacity": 20, "notes": ""}
    assert row.after == {"code": "J012-H-0009", "capacity": 12, "notes": "破损"}


def test_box_change_refused_by_the_service_changes_nothing(root_client, box):
    response = root_client.post(
        reverse("admin:repository_box_change", args=[box.pk]),
        {"code": "J012-H-0002", "capacity": 1001, "notes": ""},
    )
    assert response.status_code == 302
    box.refresh_from_db()
    assert box.capacity == 20
    assert not audit("repository.box.updated", box)


def test_box_is_not_deleted_in_the_admin(root_client, box):
    delete = reverse("admin:repository_box_delete", args=[box.pk])
    assert root_client.post(delete, {"post": "yes"}).status_code == 403
    assert Box.objects.filter(pk=box.pk).exists()


# Fonds and store rooms are reference tables, but who may reach them is audited.

ROOM_EXTRA = {"building": "", "floor": "", "template": "paper"}


def test_fonds_permissions_set_in_the_admin_are_audited(root_client, root, fonds_b):
    archivist = User.objects.create_user("liu", password="x-pass-2026")
    url = reverse("admin:repository_fonds_permissions_manage_user", args=[fonds_b.pk, archivist.pk])
    response = root_client.post(url, {"permissions": ["view_fonds_records"]})
    assert response.status_code == 302
    assert archivist.has_perm("repository.view_fonds_records", fonds_b)
    (row,) = audit("repository.fonds.permissions_changed", fonds_b)
    assert row.actor == root
    assert row.before == {"user": "liu", "permissions": []}
    assert row.after == {"user": "liu", "permissions": ["view_fonds_records"]}


def test_fonds_group_permissions_set_in_the_admin_are_audited(root_client, fonds_a):
    group = role_group("archivist")  # fonds_a grants it view and change
    url = reverse("admin:repository_fonds_permissions_manage_group", args=[fonds_a.pk, group.pk])
    response = root_client.post(url, {"permissions": ["view_fonds_records"]})
    assert response.status_code == 302
    (row,) = audit("repository.fonds.permissions_changed", fonds_a)
    assert row.before["permissions"] == ["change_fonds_records", "view_fonds_records"]
    assert row.after == {"group": "archivist", "permissions": ["view_fonds_records"]}


def test_room_keepers_changed_in_the_admin_are_audited(root_client, room):
    chen = User.objects.create_user("chen", password="x-pass-2026")
    response = root_client.post(
        reverse("admin:repository_storeroom_change", args=[room.pk]),
        {"code": room.code, "name": room.name, "keepers": [chen.pk], **ROOM_EXTRA},
    )
    assert response.status_code == 302, response.content[:3000]
    (row,) = audit("repository.room.keepers_changed", room)
    assert row.before == {"keepers": []} and row.after == {"keepers": ["chen"]}
    response = root_client.post(
        reverse("admin:repository_storeroom_change", args=[room.pk]),
        {"code": room.code, "name": "改名", "keepers": [chen.pk], **ROOM_EXTRA},
    )
    assert response.status_code == 302
    assert len(audit("repository.room.keepers_changed", room)) == 1  # keepers unchanged
