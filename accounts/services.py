"""Account services: every write goes through here, audited, pushes sent after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import role_group
from accounts.roles import can_administer
from core.live import publish

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("display_name", "email", "preferred_language")


def user_group(user_id: int) -> str:
    """The channel group that carries live notices to one user."""
    return f"accounts.user.{user_id}"


def push_to_group(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send a live event to a channel group once the current transaction commits."""
    publish(group, event_type, payload)


def notify_user(user: User | int, event_type: str, payload: dict[str, Any]) -> None:
    """Tell one user (a user or their id) after commit; never raises."""
    push_to_group(user_group(user if isinstance(user, int) else user.pk), event_type, payload)


@transaction.atomic
def update_profile(user: User, *, acting_user: User, changes: dict[str, Any]) -> User:
    """Change a user's own profile fields; audited with before/after."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    _write_fields(user, changes, event="accounts.user.profile_updated", acting_user=acting_user)
    return user


def _write_fields(
    user: User,
    changes: dict[str, Any],
    *,
    event: str,
    acting_user: User,
    validate: bool = False,
) -> None:
    """Set, save and audit (before/after) some fields of ``user``, then tell them."""
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    if validate:
        user.full_clean(exclude=["password"])
    user.save(update_fields=sorted(changes))
    record_event(
        event,
        acting_user=acting_user,
        obj=user,
        before=before,
        after={field: getattr(user, field) for field in changes},
    )
    notify_user(user, "user.updated", {"fields": sorted(changes)})


@transaction.atomic
def create_user(
    username: str,
    *,
    acting_user: User | None,
    password: str | None,
    roles: list[str] | tuple[str, ...] = (),
    clearance: int = 0,
    display_name: str = "",
    email: str = "",
) -> User:
    """Create a user with roles (groups) and a clearance; audited."""
    user = User(username=username, display_name=display_name, email=email, clearance=clearance)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    missing = set(roles) - set(Role.values)
    if missing:
        raise ValueError(f"unknown roles: {sorted(missing)}")
    user.groups.set([role_group(role) for role in roles])
    record_event(
        "accounts.user.created",
        acting_user=acting_user,
        obj=user,
        after={"username": username, "roles": sorted(roles), "clearance": clearance},
    )
    return user


# Clearance, roles and account fields: the one write door for the admin and every other caller.
#
# Who may: an administrator (the role) or a superuser. An administrator may not raise anyone
# (themselves included) above their own clearance, nor grant the administrator role, nor
# change their own roles: only a superuser may. Lowering a clearance is always allowed.

ACCOUNT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "display_name",
    "preferred_language",
    "is_active",
    "is_staff",
)


def _require_user_manager(acting_user: User | None) -> None:
    if not can_administer(acting_user):
        raise PermissionDenied


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _role_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@transaction.atomic
def set_clearance(user: User, *, acting_user: User, clearance: int, reason: str = "") -> User:
    """Set a user's clearance; audited with before/after (nothing written when unchanged)."""
    _require_user_manager(acting_user)
    try:
        clearance = Classification(int(clearance))
    except (TypeError, ValueError):
        raise ValidationError({"clearance": [_("Choose a clearance level.")]}) from None
    locked = _lock_user(user)
    before = int(locked.clearance)
    if before == clearance:
        user.clearance = before
        return user
    raising_above_own = clearance > before and clearance > int(acting_user.clearance)
    if raising_above_own and not acting_user.is_superuser:
        raise ValidationError({"clearance": [_("You may not raise a clearance above your own.")]})
    locked.clearance = int(clearance)
    locked.save(update_fields=["clearance"])
    user.clearance = int(clearance)
    record_event(
        "accounts.user.clearance_changed",
        acting_user=acting_user,
        obj=locked,
        before={"clearance": before},
        after={"clearance": int(clearance)},
        note=str(reason or "")[:500],
    )
    notify_user(locked, "user.updated", {"fields": ["clearance"]})
    return user


@transaction.atomic
def set_roles(user: User, *, acting_user: User, roles) -> User:
    """Replace a user's roles (groups named by ``accounts.choices.Role``); audited before/after.

    Only a superuser grants or removes the administrator role or changes their own roles."""
    _require_user_manager(acting_user)
    wanted = sorted({str(role) for role in roles})
    unknown = [role for role in wanted if role not in Role.values]
    if unknown:
        raise ValidationError({"groups": [_("Unknown roles: %(r)s") % {"r": ", ".join(unknown)}]})
    locked = _lock_user(user)
    before = _role_names(locked)
    if before == wanted:
        return user
    if not acting_user.is_superuser:
        if locked.pk == acting_user.pk:
            raise ValidationError({"groups": [_("You may not change your own roles.")]})
        if (Role.ADMINISTRATOR in before) != (Role.ADMINISTRATOR in wanted):
            raise ValidationError(
                {"groups": [_("Only a superuser grants or removes the administrator role.")]}
            )
    locked.groups.set([role_group(role) for role in wanted])
    for instance in (locked, user):
        instance.forget_access_facts()
    record_event(
        "accounts.user.roles_changed",
        acting_user=acting_user,
        obj=locked,
        before={"roles": before},
        after={"roles": wanted},
    )
    notify_user(locked, "user.updated", {"fields": ["roles"]})
    return user


@transaction.atomic
def update_account(user: User, *, acting_user: User, changes: dict[str, Any]) -> User:
    """An administrator changes another user's account fields (``ACCOUNT_FIELDS``); audited
    with before/after of the fields that changed. Nobody switches off their own account."""
    _require_user_manager(acting_user)
    unknown = set(changes) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValueError(f"not account fields: {sorted(unknown)}")
    locked = _lock_user(user)
    changed = {f: v for f, v in changes.items() if getattr(locked, f) != v}
    if not changed:
        return user
    if locked.pk == acting_user.pk and changed.get("is_active") is False:
        raise ValidationError({"is_active": [_("You may not deactivate your own account.")]})
    _write_fields(
        locked,
        changed,
        event="accounts.user.account_updated",
        acting_user=acting_user,
        validate=True,
    )
    for field, value in changed.items():
        setattr(user, field, value)  # the caller's copy shows the change too
    return user


@transaction.atomic
def set_password(user: User, *, acting_user: User, password: str | None) -> User:
    """An administrator sets a user's password (``None``: password sign-in switched off).
    Audited; the password itself is never written to the log."""
    _require_user_manager(acting_user)
    locked = _lock_user(user)
    for instance in (locked, user):
        if password:
            instance.set_password(password)
        else:
            instance.set_unusable_password()
    locked.save(update_fields=["password"])
    record_event(
        "accounts.user.password_set",
        acting_user=acting_user,
        obj=locked,
        after={"usable_password": bool(password)},
    )
    return user


@transaction.atomic
def enrol_reader(user: User, *, acting_user: User | None) -> User:
    """Give a newly registered reader the researcher role (and nothing else): the one role a
    registration may grant, by the reader themselves or the front desk; audited."""
    if _role_names(user):
        raise ValidationError(_("Only a new account is enrolled as a reader."))
    user.groups.add(role_group(Role.RESEARCHER))
    user.forget_access_facts()
    record_event(
        "accounts.user.roles_changed",
        acting_user=acting_user or user,
        obj=user,
        before={"roles": []},
        after={"roles": [str(Role.RESEARCHER)]},
        note="reader registration",
    )
    return user
