from django.contrib import admin

from accounts.admin_doors import ServiceAdminMixin
from borrowing import approval_rules
from borrowing.models import AccessSettings, ApprovalRule, UsePurpose
from borrowing.services.configuration import (
    PURPOSE_FIELDS,
    SETTINGS_FIELDS,
    save_use_purpose,
    update_access_settings,
)


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """The approval rule table is configuration: administrators edit it here, through
    ``borrowing.approval_rules`` (validated, audited with before/after)."""

    list_display = [
        "priority",
        "min_classification",
        "access_status",
        "method",
        "role",
        "steps",
        "description",
    ]
    list_editable = ["min_classification", "access_status", "method", "role", "steps"]
    ordering = ["priority", "id"]

    def save_model(self, request, obj, form, change):
        values = {
            field: form.cleaned_data[field]
            for field in approval_rules.RULE_FIELDS
            if field in form.cleaned_data
        }
        saved = approval_rules.save_approval_rule(
            obj if change else None, acting_user=request.user, values=values
        )
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db

    def delete_model(self, request, obj):
        approval_rules.delete_approval_rule(obj, acting_user=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            approval_rules.delete_approval_rule(rule, acting_user=request.user)


@admin.register(AccessSettings)
class AccessSettingsAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """利用设置: one row, changed through ``update_access_settings`` (audited)."""

    list_display = ["archive_name", "reading_room_closes", "lending_days", "lending_steps"]
    filter_horizontal = ["metadata_fonds"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data[f] for f in SETTINGS_FIELDS if f in form.cleaned_data}
        self._fonds = form.cleaned_data.get("metadata_fonds")
        update_access_settings(acting_user=request.user, values=values)

    def save_related(self, request, form, formsets, change):
        update_access_settings(
            acting_user=request.user, values={}, metadata_fonds=list(self._fonds or [])
        )


@admin.register(UsePurpose)
class UsePurposeAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """利用目的: added and changed through ``save_use_purpose`` (audited); never deleted
    (past requests and statistics name them), withdrawn by unticking "offered"."""

    list_display = ["name", "code", "position", "active"]
    list_editable = ["position", "active"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data[f] for f in PURPOSE_FIELDS if f in form.cleaned_data}
        saved = save_use_purpose(obj if change else None, acting_user=request.user, values=values)
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db
