"""Who counts as borrowing staff: the roles of the desk, the approvers and the keepers.

Below both ``borrowing.models`` (the querysets' staff door) and ``borrowing.access`` (the
fetch-and-authorise helpers), so the two no longer import each other.
"""

from __future__ import annotations

from accounts.choices import Role

BORROWING_STAFF_ROLES = (Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR)
DESK_ROLES = (Role.FRONT_DESK, Role.ADMINISTRATOR)
CHECKIN_ROLES = (Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR)


def is_borrowing_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(*BORROWING_STAFF_ROLES))
