"""Account services: every write goes through here, audited, pushes sent after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from accounts.audit import record_event
from accounts.choices import Role
from accounts.models import User
from accounts.permissions import role_group
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
    push_to_group(user_group(getattr(user, "pk", user)), event_type, payload)


@transaction.atomic
def update_profile(user: User, *, acting_user: User, changes: dict[str, Any]) -> User:
    """Change a user's own profile fields; audited with before/after."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    user.save(update_fields=list(changes))
    record_event(
        "accounts.user.profile_updated",
        acting_user=acting_user,
        obj=user,
        before=before,
        after={field: getattr(user, field) for field in changes},
    )
    notify_user(user, "user.updated", {"fields": sorted(changes)})
    return user


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
