"""The audit log's one door (``AuditLog.objects.visible_to``): the audit page and the admin
show no row about a record the viewer may not see (clearance AND fonds: SPEC "Classification"),
and mask such records' codes inside the rows they show (a box's row lists its records)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.translation import gettext

from accounts.audit import record_event
from accounts.choices import Classification, Role
from accounts.models import AuditLog, User
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item

pytestmark = pytest.mark.django_db


def _item(category, tag, level, status=AccessStatus.CONTROLLED):
    return Item.objects.create(
        fonds=category.fonds,
        category=category,
        reference_code=f"{category.fonds.code}-WS-2001-{tag}",
        title=f"AUDIT{tag}Z 题名",
        access_status=status,
        classification=level,
    )


@pytest.fixture
def world(db):
    fonds = Fonds.objects.create(code="AUD", name="审计全宗")
    ws = Category.objects.create(fonds=fonds, code="WS", name="文书")
    records = {
        "public": _item(ws, "PUB", Classification.NONE, AccessStatus.OPEN),
        "conf": _item(ws, "CONF", Classification.CONFIDENTIAL),
        "top": _item(ws, "TOP", Classification.TOP_SECRET),
    }
    it_admin = User.objects.create_user("it", clearance=Classification.NONE)
    it_admin.groups.set([role_group(Role.ADMINISTRATOR)])
    root = User.objects.create_superuser("root", "r@example.org", "x", clearance=2)
    curator = User.objects.create_user("curator", clearance=Classification.TOP_SECRET)
    curator.groups.set([role_group(Role.ADMINISTRATOR)])
    grant("repository.view_fonds_records", curator, fonds)
    for record in records.values():
        record_event("repository.item.updated", acting_user=root, obj=record, note="edit")
    # A row about something else that names records (as a box's "records added" does).
    record_event(
        "repository.box.records_added",
        acting_user=root,
        obj=fonds,
        after={"records": [r.reference_code for r in records.values()]},
        note=f"put {records['top'].reference_code} in",
    )
    return records, {"it": it_admin, "root": root, "curator": curator}


def test_rows_about_hidden_records_are_left_out_and_their_codes_masked(world):
    records, users = world
    sees = {"it": {"public"}, "root": {"public", "conf"}, "curator": set(records)}
    for name, user in users.items():
        rows = list(AuditLog.objects.visible_to(user).filter(action="repository.item.updated"))
        assert {r.object_repr for r in rows} == {str(records[k]) for k in sees[name]}, name
        assert AuditLog.objects.visible_to(user).count() == len(sees[name]) + 1
        (box,) = AuditLog.objects.visible_to(user).filter(action__startswith="repository.box")
        text = str(box.after) + box.note
        for key, record in records.items():
            assert (record.reference_code in text) == (key in sees[name]), (name, key)
        assert (gettext("(hidden)") in text) == (sees[name] != set(records))
    # The masks are never written back (the log is append-only anyway).
    assert records["top"].reference_code in AuditLog.objects.get(note__startswith="put").note


def test_audit_page_and_admin_read_through_the_door(world, client):
    records, users = world
    client.force_login(users["root"])  # a superuser cleared to 机密
    top = records["top"]
    for url in (reverse("accounts:audit-log"), reverse("admin:accounts_auditlog_changelist")):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert records["conf"].reference_code in body, url
        assert top.reference_code not in body and "AUDITTOPZ" not in body, url
    search = reverse("admin:accounts_auditlog_changelist") + f"?q={top.reference_code}"
    assert client.get(search).context["cl"].result_count == 0
    hidden_row = AuditLog.objects.get(object_id=str(top.pk))
    response = client.get(reverse("admin:accounts_auditlog_change", args=[hidden_row.pk]))
    assert response.status_code == 302  # the admin's answer for a row it cannot find
    box_row = AuditLog.objects.get(action="repository.box.records_added")
    response = client.get(reverse("admin:accounts_auditlog_change", args=[box_row.pk]))
    assert response.status_code == 200 and top.reference_code not in response.content.decode()
