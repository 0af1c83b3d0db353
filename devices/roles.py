"""Who may read and change the sensor registry (named role predicates, see ``accounts.roles``).

Keepers and administrators read the registry (they watch the rooms); only administrators
change it, define sensor sources and see what the worker rejected (dead letters) or has not
placed (discovered).
"""

from __future__ import annotations

from accounts.choices import Role
from accounts.roles import RolePredicate

can_read_sensors = RolePredicate("can_read_sensors", Role.KEEPER, Role.ADMINISTRATOR)
can_manage_sensors = RolePredicate("can_manage_sensors", Role.ADMINISTRATOR)
