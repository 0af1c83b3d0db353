"""Who may do what in the catalogue and the store rooms (named role predicates, see
``accounts.roles``). Object rules (which fonds, which record) stay in ``repository.access``."""

from __future__ import annotations

from accounts.choices import Role
from accounts.roles import RolePredicate

# Describe, renumber, review for opening and import records (then per fonds:
# ``access.can_change_fonds``).
can_catalogue = RolePredicate("can_catalogue", Role.ARCHIVIST, Role.ADMINISTRATOR)
# Set up shelving units and manage boxes (which records they may box is decided per record).
can_manage_locations = RolePredicate(
    "can_manage_locations", Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR
)
# Open, scan and close stocktakes.
can_take_stock = RolePredicate("can_take_stock", Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR)
