"""Users in the admin go through accounts.services: clearance (set_clearance), roles
(set_roles), account fields (update_account), password (set_password) and new users
(create_user), each with its checks and audit row. Username, superuser flag, direct
permissions and dates are read-only here; users are deactivated, never deleted. Groups (the
roles), API tokens and the audit log are read-only."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from accounts import services
from accounts.admin_doors import ReadOnlyAdminMixin, ServiceAdminMixin
from accounts.choices import Role
from accounts.models import AuditLog, ReaderProfile, User

# The signed-in administrator while the admin's password page runs (the form has no request).
_acting_user: ContextVar[User | None] = ContextVar("admin_acting_user", default=None)


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        password = self.cleaned_data.get("password1") if usable else None
        return services.set_password(self.user, acting_user=_acting_user.get(), password=password)


@admin.register(User)
class UserAdmin(ServiceAdminMixin, BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Archive"), {"fields": ("display_name", "clearance", "preferred_language")}),
    )
    list_display = ("username", "display_name", "clearance", "is_active", "last_login")
    list_filter = ("clearance", "groups", "is_active")
    change_password_form = AuditedPasswordChangeForm
    filter_horizontal = ("groups",)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("username", "is_superuser", "user_permissions", "last_login", "date_joined")

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name == "groups":  # only the roles are groups a user is put in
            kwargs["queryset"] = Group.objects.filter(name__in=Role.values).order_by("name")
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate (is_active) instead: the audit log keeps naming the user

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            usable = data.get("set_usable_password", True)
            user = services.create_user(
                data["username"],
                acting_user=request.user,
                password=data.get("password1") if usable else None,
            )
            obj.pk = user.pk
            obj.password = user.password
            obj._state.adding = False
            obj._state.db = user._state.db
            return
        current = User.objects.get(pk=obj.pk)
        changes = {field: data[field] for field in services.ACCOUNT_FIELDS if field in data}
        services.update_account(current, acting_user=request.user, changes=changes)
        if "clearance" in data:
            services.set_clearance(current, acting_user=request.user, clearance=data["clearance"])

    def save_related(self, request, form, formsets, change):
        if change and "groups" in form.cleaned_data:
            roles = [group.name for group in form.cleaned_data["groups"]]
            services.set_roles(form.instance, acting_user=request.user, roles=roles)
        for formset in formsets:  # none today; a future inline must get a service of its own
            raise NotImplementedError(f"unaudited inline {type(formset).__name__}")

    def user_change_password(self, request, id, form_url=""):
        token = _acting_user.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _acting_user.reset(token)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ReadOnlyAdminMixin, BaseGroupAdmin):
    """The roles are groups created by a migration, with the permissions the code expects."""


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(ReadOnlyAdminMixin, BaseTokenAdmin):
    """API tokens are issued and revoked by their owners through the API, not here."""


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: audit rows are never edited or deleted through the application."""

    list_display = ("at", "actor_repr", "action", "object_repr")
    list_filter = ("action",)
    search_fields = ("actor_repr", "action", "object_repr", "object_id")
    date_hierarchy = "at"

    def get_queryset(self, request):
        # The audit log's one door: rows about objects the viewer may not see are left out,
        # hidden records' codes masked (list, search, date drill-down and the row page).
        return super().get_queryset(request).visible_to(request.user)


@admin.register(ReaderProfile)
class ReaderProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Reader registrations are written by ``accounts.readers`` (registration, identity
    check), audited; the admin only shows them (the identity number is never stored)."""

    list_display = ["real_name", "user", "category", "unit_name", "identity_checked_at"]
    search_fields = ["real_name", "user__username", "unit_name", "id_number_last4"]
    exclude = ["id_number_digest"]
