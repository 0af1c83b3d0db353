"""Who may call the staff endpoints: DRF permission classes, each one named predicate
(``accounts.roles``, ``repository.roles``)."""

from __future__ import annotations

from rest_framework import permissions

from accounts.roles import is_staff
from repository.roles import can_catalogue, can_manage_locations, can_take_stock


class StaffOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return is_staff(request.user)


class StocktakeRoles(permissions.BasePermission):
    def has_permission(self, request, view):
        return can_take_stock(request.user)


class LocationManagers(permissions.BasePermission):
    """Keepers, archivists and administrators (shelving units and boxes)."""

    def has_permission(self, request, view):
        return can_manage_locations(request.user)


class ImportRoles(permissions.BasePermission):
    """Catalogue imports: archivists and administrators (a job itself: its owner or an admin)."""

    def has_permission(self, request, view):
        return can_catalogue(request.user)
