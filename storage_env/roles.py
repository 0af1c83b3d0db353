"""Who may watch store-room climate (named role predicate, see ``accounts.roles``).

Below ``storage_env.models`` (the alarm and reading doors use it) and ``storage_env.access``.
"""

from __future__ import annotations

from accounts.choices import Role
from accounts.roles import RolePredicate

# Keepers and administrators see every room's climate: readings, alarms, reports, the live
# dashboard; they act on alarms and set a room's set points.
can_watch_climate = RolePredicate("can_watch_climate", Role.KEEPER, Role.ADMINISTRATOR)
