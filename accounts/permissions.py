"""Small permission helpers that every app uses.

Roles are groups (see ``accounts.choices.Role``); object permissions go through
django-guardian. Views call ``requires(<named predicate>)`` (``accounts.roles``); services
call ``grant``/``revoke``; querysets call ``clearance_of`` to filter by classification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.roles import RolePredicate, is_staff

AnyUser = User | AnonymousUser


def has_role(user: AnyUser, *roles: str) -> bool:
    """True when the user holds any of ``roles`` (superusers count as administrators)."""
    if not user.is_authenticated:
        return False
    return user.has_role(*roles)


def is_staff_member(user: AnyUser) -> bool:
    return user.is_authenticated and user.is_archive_staff


def clearance_of(user: AnyUser) -> int:
    """The highest classification the user may see; anonymous users see unclassified only."""
    if not user.is_authenticated:
        return Classification.NONE
    return int(user.clearance)


def clearance_allows(user: AnyUser, level: int) -> bool:
    return clearance_of(user) >= int(level)


def role_group(role: Role | str) -> Group:
    """The group of a role (created if missing: a test database flush removes migration data)."""
    return Group.objects.get_or_create(name=str(role))[0]


def requires(allowed: RolePredicate) -> Callable:
    """View decorator: sign-in required; a signed-in user for whom ``allowed(user)`` is false
    gets a 404 (``allowed`` is a named predicate, e.g. ``repository.roles.can_catalogue``).

    A 404 rather than a 403 so a page does not reveal that it exists to people who may not use it.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def role_required(*roles: str) -> Callable:
    """``requires`` for an unnamed role set (prefer a named predicate from ``<app>.roles``)."""
    return requires(RolePredicate("role_required", *roles))


staff_required = requires(is_staff)


def grant(perm: str, to: User | Group, obj: models.Model | None = None) -> None:
    """Grant a permission, on one object when ``obj`` is given (django-guardian)."""
    assign_perm(perm, to, obj)
    if isinstance(to, User):
        to.forget_access_facts()


def revoke(perm: str, to: User | Group, obj: models.Model | None = None) -> None:
    remove_perm(perm, to, obj)
    if isinstance(to, User):
        to.forget_access_facts()


def objects_with_perm(
    user: AnyUser, perms: str | Iterable[str], klass: type[models.Model] | models.QuerySet
) -> models.QuerySet:
    """Objects of ``klass`` on which the user holds ``perms`` (directly or through a group)."""
    return get_objects_for_user(user, perms, klass, accept_global_perms=True)
