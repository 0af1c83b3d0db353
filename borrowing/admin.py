from django.contrib import admin

from accounts.admin_doors import ServiceAdminMixin
from borrowing import approval_rules
from borrowing.models import ApprovalRule


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
