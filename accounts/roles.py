"""Named role predicates: one name per "who may do this" rule.

A ``RolePredicate`` is a callable ``(user) -> bool`` (``None`` and anonymous users: ``False``;
a superuser counts as an administrator) that also carries its role set. The same object is
used by the staff navigation (``NavItem(..., allowed=can_…)``), the page decorator
(``permissions.requires(can_…)``), the API's permission classes and the services, so a rule
is spelled once. Each app names its own predicates next to its rules (``repository.roles``,
``borrowing.roles``, ``storage_env.roles``); the ones every app shares are here.
"""

from __future__ import annotations

from accounts.choices import STAFF_ROLES, Role


class RolePredicate:
    """``user`` holds one of ``roles`` (superusers hold ``administrator``)."""

    __slots__ = ("name", "roles")

    def __init__(self, name: str, *roles: str) -> None:
        self.name = name
        self.roles = frozenset(str(role) for role in roles)

    def __call__(self, user) -> bool:
        if user is None or not user.is_authenticated:
            return False
        return bool(user.has_role(*self.roles))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RolePredicate):
            return NotImplemented
        return (self.name, self.roles) == (other.name, other.roles)

    def __hash__(self) -> int:
        return hash((self.name, self.roles))

    def __repr__(self) -> str:
        return f"<RolePredicate {self.name}: {', '.join(sorted(self.roles))}>"


# Any staff role: the staff pages, the staff navigation and API documentation.
is_staff = RolePredicate("is_staff", *sorted(STAFF_ROLES))
# System administration: accounts, the audit log, the admin site, notification channels.
can_administer = RolePredicate("can_administer", Role.ADMINISTRATOR)


def can_use_admin_site(user) -> bool:
    """The admin site's own rule (``AdminSite.has_permission``: active and ``is_staff``), so
    the menu offers it only to those it lets in (the administrator role alone does not)."""
    return bool(user is not None and user.is_active and user.is_staff)


# The front desk registers walk-in readers and records identity checks (利用登记).
can_register_readers = RolePredicate("can_register_readers", Role.FRONT_DESK, Role.ADMINISTRATOR)
