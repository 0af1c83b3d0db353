"""The admin is no second write door: every registered ModelAdmin is read-only, backed by its
app's services (same checks, same audit row) or an allow-listed reference table; users'
clearance, roles, account fields and passwords changed in the admin are audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.urls import reverse

from accounts import services
from accounts.admin_doors import UNAUDITED_ADMIN_MODELS
from accounts.choices import Classification, Role
from accounts.models import AuditLog, User
from accounts.permissions import role_group

pytestmark = pytest.mark.django_db

PASSWORD = "x-pass-2026-long"


@pytest.fixture
def root(db):
    # Clearance NONE on purpose: a superuser may raise anyone, whatever their own clearance.
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def target(db):
    return User.objects.create_user("wang", password=PASSWORD, display_name="王五")


def change_data(user: User, **overrides) -> dict:
    """Every field of the user change form, as the browser posts it."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [g.pk for g in user.groups.all()],
        "date_joined_0": "2026-01-05",
        "date_joined_1": "09:00:00",
        "display_name": user.display_name,
        "clearance": str(user.clearance),
        "preferred_language": user.preferred_language,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def change_url(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def rows(action: str, user: User):
    return list(AuditLog.objects.filter(action=action, object_id=str(user.pk)).order_by("pk"))


def test_raising_clearance_in_admin_writes_exactly_one_audit_row(root_client, root, target):
    response = root_client.post(
        change_url(target), change_data(target, clearance=str(Classification.TOP_SECRET))
    )
    assert response.status_code == 302, response.content[:2000]
    target.refresh_from_db()
    assert target.clearance == Classification.TOP_SECRET
    changed = AuditLog.objects.filter(object_id=str(target.pk))
    assert [row.action for row in changed] == ["accounts.user.clearance_changed"]
    row = changed.get()
    assert row.actor == root
    assert row.before == {"clearance": 0} and row.after == {"clearance": 3}


def test_roles_changed_in_admin_are_audited_before_after(root_client, target):
    target.groups.set([role_group(Role.RESEARCHER)])
    archivist = role_group(Role.ARCHIVIST)
    response = root_client.post(change_url(target), change_data(target, groups=[archivist.pk]))
    assert response.status_code == 302
    assert list(target.groups.values_list("name", flat=True)) == ["archivist"]
    (row,) = rows("accounts.user.roles_changed", target)
    assert row.before == {"roles": ["researcher"]} and row.after == {"roles": ["archivist"]}


def test_account_fields_changed_in_admin_are_audited(root_client, target):
    response = root_client.post(
        change_url(target), change_data(target, email="wang@example.org", is_active=None)
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.email == "wang@example.org" and not target.is_active
    (row,) = rows("accounts.user.account_updated", target)
    assert row.before == {"email": "", "is_active": True}
    assert row.after == {"email": "wang@example.org", "is_active": False}


def test_saving_an_unchanged_user_writes_no_row(root_client, target):
    assert root_client.post(change_url(target), change_data(target)).status_code == 302
    assert not AuditLog.objects.filter(object_id=str(target.pk)).exists()


def test_superuser_flag_and_direct_permissions_are_read_only(root_client, target):
    perm = Permission.objects.get(codename="change_user")
    response = root_client.post(
        change_url(target),
        change_data(target, is_superuser="on", is_staff="on", user_permissions=[perm.pk]),
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert not target.is_superuser and not target.user_permissions.exists()
    assert target.is_staff  # is_staff is an account field: changed, and audited
    (row,) = rows("accounts.user.account_updated", target)
    assert row.after == {"is_staff": True}


def test_password_set_in_admin_is_audited(root_client, target):
    url = reverse("admin:auth_user_password_change", args=[target.pk])
    url = url.replace("/auth/", "/accounts/")
    new = "another-pass-2026-long"
    response = root_client.post(
        url, {"password1": new, "password2": new, "usable_password": "true"}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.check_password(new)
    (row,) = rows("accounts.user.password_set", target)
    assert new not in str(row.after) and row.after == {"usable_password": True}


def test_user_added_in_admin_is_audited(root_client):
    response = root_client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "zhao",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="zhao")
    assert user.check_password(PASSWORD)
    (row,) = rows("accounts.user.created", user)
    assert row.after["clearance"] == 0 and row.after["roles"] == []


def test_users_are_not_deleted_in_the_admin(root_client, target):
    url = reverse("admin:accounts_user_delete", args=[target.pk])
    assert root_client.post(url, {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=target.pk).exists()


def test_a_refusal_comes_back_as_a_message_and_changes_nothing(client, target):
    # An administrator who is a staff member with the admin permissions, cleared to 机密.
    boss = User.objects.create_user(
        "boss", password=PASSWORD, is_staff=True, clearance=Classification.CONFIDENTIAL
    )
    boss.groups.set([role_group(Role.ADMINISTRATOR)])
    boss.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(boss)
    response = client.post(
        change_url(target), change_data(target, clearance=str(Classification.TOP_SECRET))
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert '<li class="error">' in page
    target.refresh_from_db()
    assert target.clearance == Classification.NONE
    assert not AuditLog.objects.filter(object_id=str(target.pk)).exists()


# The services themselves: the same doors for every other caller.


@pytest.fixture
def boss(db):
    user = User.objects.create_user(
        "boss", password=PASSWORD, clearance=Classification.CONFIDENTIAL
    )
    user.groups.set([role_group(Role.ADMINISTRATOR)])
    return user


def test_set_clearance_refuses_above_own_unless_superuser(boss, root, target):
    with pytest.raises(ValidationError):
        services.set_clearance(target, acting_user=boss, clearance=Classification.TOP_SECRET)
    services.set_clearance(target, acting_user=boss, clearance=Classification.CONFIDENTIAL)
    services.set_clearance(
        target, acting_user=root, clearance=Classification.TOP_SECRET, reason="任命"
    )
    services.set_clearance(target, acting_user=boss, clearance=Classification.NONE)  # lowering
    target.refresh_from_db()
    assert target.clearance == Classification.NONE
    audit = rows("accounts.user.clearance_changed", target)
    assert [(r.before["clearance"], r.after["clearance"]) for r in audit] == [
        (0, 2),
        (2, 3),
        (3, 0),
    ]
    assert audit[1].note == "任命"


def test_set_clearance_and_roles_need_an_administrator(root, target):
    keeper = User.objects.create_user("keeper1", password=PASSWORD)
    keeper.groups.set([role_group(Role.KEEPER)])
    with pytest.raises(PermissionDenied):
        services.set_clearance(target, acting_user=keeper, clearance=1)
    with pytest.raises(PermissionDenied):
        services.set_roles(target, acting_user=keeper, roles=[Role.KEEPER])
    with pytest.raises(ValidationError):
        services.set_clearance(target, acting_user=root, clearance=9)


def test_set_roles_rules(boss, root, target):
    with pytest.raises(ValidationError):
        services.set_roles(target, acting_user=boss, roles=["wizard"])
    with pytest.raises(ValidationError):  # only a superuser makes administrators
        services.set_roles(target, acting_user=boss, roles=[Role.ADMINISTRATOR])
    with pytest.raises(ValidationError):  # nor changes their own roles
        services.set_roles(boss, acting_user=boss, roles=[Role.ADMINISTRATOR, Role.KEEPER])
    services.set_roles(target, acting_user=boss, roles=[Role.KEEPER, Role.APPROVER])
    services.set_roles(target, acting_user=boss, roles=[Role.APPROVER, Role.KEEPER])  # no-op
    services.set_roles(target, acting_user=root, roles=[Role.ADMINISTRATOR])
    assert target.has_role(Role.ADMINISTRATOR)
    audit = rows("accounts.user.roles_changed", target)
    assert [(r.before["roles"], r.after["roles"]) for r in audit] == [
        ([], ["approver", "keeper"]),
        (["approver", "keeper"], ["administrator"]),
    ]


# Every registered admin.


def _superuser_request(user):
    request = RequestFactory().get("/staff/admin/")
    request.user = user
    return request


def test_every_registered_admin_is_read_only_service_backed_or_allow_listed(root):
    request = _superuser_request(root)
    offenders = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        door = getattr(model_admin, "admin_door", None)
        if label in UNAUDITED_ADMIN_MODELS:
            assert UNAUDITED_ADMIN_MODELS[label].strip(), label
            continue
        if door == "service":
            continue
        writes = [
            name
            for name, allowed in (
                ("add", model_admin.has_add_permission(request)),
                ("change", model_admin.has_change_permission(request)),
                ("delete", model_admin.has_delete_permission(request)),
            )
            if allowed
        ]
        if writes or door != "read-only":
            offenders.append(f"{label} ({type(model_admin).__name__}): {writes or door}")
    assert not offenders, "admins that write without a service or an audit row:\n" + "\n".join(
        offenders
    )


def test_allow_list_names_only_registered_models():
    registered = {model._meta.label for model in admin.site._registry}
    assert set(UNAUDITED_ADMIN_MODELS) <= registered


@pytest.mark.parametrize(
    "label",
    sorted(
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if getattr(model_admin, "admin_door", None) == "read-only"
    ),
)
def test_read_only_admins_refuse_add_and_bulk_delete(root_client, label):
    app_label, model_name = label.lower().split(".")
    add = root_client.post(reverse(f"admin:{app_label}_{model_name}_add"), {})
    assert add.status_code == 403
    changelist = root_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert b'value="delete_selected"' not in changelist.content


# Elsewhere: no code but the accounts services writes clearances, roles or permissions.

ACCESS_WRITES = re.compile(
    r"\.clearance\s*=(?!=)"
    r"|\b(groups|user_set|user_permissions)\.(set|add|remove|clear)\("
    r"|\.update\([^)]*\b(clearance|is_superuser|is_staff)\s*="
)
# "path" → why it may write them without accounts.services.
ACCESS_WRITERS = {
    "accounts/services.py": "the services themselves",
    "accounts/demo.py": "the demo seed makes its demo administrator a superuser (no actor)",
}


def test_clearance_roles_and_permissions_are_written_only_by_the_services():
    root = Path(settings.BASE_DIR)
    apps = [path.parent for path in root.glob("*/apps.py")]
    assert len(apps) >= 5, apps
    offenders = []
    for app in apps:
        for source in app.rglob("*.py"):
            relative = source.relative_to(root).as_posix()
            if "/migrations/" in relative or relative in ACCESS_WRITERS:
                continue
            for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
                if ACCESS_WRITES.search(line):
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "use accounts.services.set_clearance / set_roles:\n" + "\n".join(
        offenders
    )
