import pytest
from django.contrib.auth.models import AnonymousUser, Group

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import (
    clearance_allows,
    clearance_of,
    grant,
    has_role,
    is_staff_member,
    objects_with_perm,
    revoke,
)
from accounts.services import create_user


def test_roles_exist_after_migrations(db):
    names = set(Group.objects.values_list("name", flat=True))
    assert {r.value for r in Role} <= names


def test_has_role_and_staff(personas):
    assert has_role(personas["front_desk"], Role.FRONT_DESK)
    assert not has_role(personas["front_desk"], Role.APPROVER)
    assert not has_role(AnonymousUser(), Role.RESEARCHER)
    assert is_staff_member(personas["keeper"])
    assert not is_staff_member(personas["researcher"])
    assert not is_staff_member(personas["outsider"])
    assert not is_staff_member(AnonymousUser())


def test_superuser_counts_as_administrator(db):
    boss = User.objects.create_superuser("boss", password="x-long-password-1")
    assert has_role(boss, Role.ADMINISTRATOR)
    assert not has_role(boss, Role.RESEARCHER)


@pytest.mark.parametrize(
    ("persona", "level", "allowed"),
    [
        ("researcher", Classification.NONE, True),
        ("researcher", Classification.SECRET, False),
        ("archivist_a", Classification.SECRET, True),
        ("archivist_a", Classification.CONFIDENTIAL, False),
        ("approver_secret", Classification.CONFIDENTIAL, True),
        ("approver_secret", Classification.TOP_SECRET, False),
    ],
)
def test_clearance(personas, persona, level, allowed):
    assert clearance_allows(personas[persona], level) is allowed


def test_anonymous_sees_unclassified_only():
    assert clearance_of(AnonymousUser()) == Classification.NONE


def test_object_permissions_through_guardian_for_groups(personas):
    """Grant on one object to a role group; members get it, others do not; revoke removes it."""
    target = Group.objects.create(name="some-object")
    other = Group.objects.create(name="other-object")
    archivists = Group.objects.get(name=Role.ARCHIVIST)
    grant("auth.change_group", archivists, target)
    archivist = User.objects.get(pk=personas["archivist_a"].pk)  # fresh permission cache
    assert archivist.has_perm("auth.change_group", target)
    assert not archivist.has_perm("auth.change_group", other)
    assert not personas["keeper"].has_perm("auth.change_group", target)
    assert list(objects_with_perm(archivist, "auth.change_group", Group)) == [target]
    revoke("auth.change_group", archivists, target)
    assert not User.objects.get(pk=archivist.pk).has_perm("auth.change_group", target)


def test_create_user_service_is_audited_and_rejects_unknown_roles(db):
    from accounts.models import AuditLog

    user = create_user("newbie", acting_user=None, password="pw-long-2026", roles=["keeper"])
    assert user.has_role(Role.KEEPER)
    assert AuditLog.objects.filter(action="accounts.user.created", object_id=str(user.pk)).exists()
    with pytest.raises(ValueError, match="unknown roles"):
        create_user("ghost", acting_user=None, password="pw-long-2026", roles=["wizard"])
    assert not User.objects.filter(username="ghost").exists()


def test_roles_and_fonds_permissions_are_read_in_one_query(personas, django_assert_num_queries):
    """Every request needs the user's roles and fonds permissions: one UNION query, cached on
    the user object for the request."""
    from repository.models import Fonds

    fonds = Fonds.objects.create(code="Q901", name="一次读取")
    user = User.objects.get(pk=personas["archivist_a"].pk)  # fresh instance: nothing cached
    grant("repository.view_fonds_records", user, fonds)
    grant("repository.change_fonds_records", user, fonds)
    user = User.objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        facts = user.access_facts()
        assert user.is_archive_staff and user.has_role(Role.ARCHIVIST)
        assert fonds.pk in facts.object_ids("fonds", "view_fonds_records")
        assert facts.has_object_perm("fonds", fonds.pk, "change_fonds_records")


def test_granting_or_revoking_refreshes_the_cached_facts(personas):
    from repository.access import can_change_fonds
    from repository.models import Fonds

    fonds = Fonds.objects.create(code="Q902", name="撤销即生效")
    user = User.objects.get(pk=personas["archivist_a"].pk)
    assert not can_change_fonds(user, fonds)
    grant("repository.change_fonds_records", user, fonds)
    assert can_change_fonds(user, fonds)
    revoke("repository.change_fonds_records", user, fonds)
    assert not can_change_fonds(user, fonds)
    # Through a group: a new request (a fresh user object) sees the change.
    group = Group.objects.create(name="Q902 archivists")
    user.groups.add(group)
    grant("repository.change_fonds_records", group, fonds)
    assert can_change_fonds(User.objects.get(pk=user.pk), fonds)
