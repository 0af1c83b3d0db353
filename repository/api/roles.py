"""Who may call the staff endpoints (DRF permission classes)."""

from __future__ import annotations

from rest_framework import permissions

from repository import access


class StaffOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return access.is_staff_viewer(request.user)


class StocktakeRoles(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(
            user and user.is_authenticated and user.has_role("keeper", "archivist", "administrator")
        )


class LocationManagers(permissions.BasePermission):
    """Keepers, archivists and administrators (shelving units and boxes)."""

    def has_permission(self, request, view):
        return access.can_manage_locations(request.user)


class ImportRoles(permissions.BasePermission):
    """Catalogue imports: archivists and administrators (a job itself: its owner or an admin)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role("archivist", "administrator"))
