"""Who may do what in borrowing (named role predicates, see ``accounts.roles``). Which
requests and loans a person may act on is the door (``AccessRequest.objects.handled_by``).

Below both ``borrowing.models`` (the querysets' staff door) and ``borrowing.access`` (the
fetch-and-authorise helpers), so the two no longer import each other.
"""

from __future__ import annotations

from accounts.choices import Role
from accounts.roles import RolePredicate

# The desk, the approvers and the keepers: the request pages, slips and the staff door.
is_borrowing_staff = RolePredicate(
    "is_borrowing_staff", Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR
)
# The front desk: check out, close, cancel or renew for someone else.
can_serve_desk = RolePredicate("can_serve_desk", Role.FRONT_DESK, Role.ADMINISTRATOR)
# Fetch approved records from the shelves (取档) and work the retrieval list.
can_retrieve = RolePredicate("can_retrieve", Role.KEEPER, Role.FRONT_DESK, Role.ADMINISTRATOR)
# Take records back: mobile check-in scans and returns.
can_check_in = RolePredicate("can_check_in", Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR)
# Decide an approver's step of the approval chain.
can_approve = RolePredicate("can_approve", Role.APPROVER, Role.ADMINISTRATOR)
# Decide a front-desk step (open records): the desk or an approver.
can_decide_desk_step = RolePredicate(
    "can_decide_desk_step", Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR
)
# Read the usage statistics.
can_read_statistics = RolePredicate(
    "can_read_statistics", Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR
)
