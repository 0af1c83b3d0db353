from django.contrib import admin

from borrowing.models import ApprovalRule


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    """The approval rule table is configuration: administrators edit it here."""

    list_display = [
        "priority",
        "min_classification",
        "access_status",
        "purpose",
        "role",
        "steps",
        "description",
    ]
    list_editable = ["min_classification", "access_status", "purpose", "role", "steps"]
    ordering = ["priority", "id"]
