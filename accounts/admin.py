from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditLog, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Archive"), {"fields": ("display_name", "clearance", "preferred_language")}),
    )
    list_display = ("username", "display_name", "clearance", "is_active", "last_login")
    list_filter = ("clearance", "groups", "is_active")


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: audit rows are never edited or deleted through the application."""

    list_display = ("at", "actor_repr", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("actor_repr", "action", "object_repr", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
