"""Administration of the reference data: fonds (with their code pattern and object
permissions), categories, store rooms, shelving units and boxes. Records themselves are
described through the staff pages and the API (services: validation, audit, search outbox)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import Http404
from guardian.admin import GuardedModelAdmin

from core.input import ID_MAX, InvalidInput, parse_int
from repository import codes, services
from repository.models import Box, Category, Fonds, Position, ShelvingUnit, StoreRoom


class FondsForm(forms.ModelForm):
    class Meta:
        model = Fonds
        fields = ["code", "name", "description", "code_pattern"]

    def clean_code_pattern(self):
        pattern = self.cleaned_data.get("code_pattern") or {}
        if not isinstance(pattern, dict):
            raise ValidationError('A JSON object such as {"item": "{fonds}-…-{item:4}"}.')
        codes.validate_pattern(pattern)
        return pattern


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0
    fields = ["code", "name", "parent", "opening_age_years"]


@admin.register(Fonds)
class FondsAdmin(GuardedModelAdmin):
    form = FondsForm
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [CategoryInline]

    # Guardian's permission pages look ids up with the text from the address, where anything
    # but a number was a ValueError (500): an address that names no id is a 404.
    def obj_perms_manage_view(self, request, object_pk):
        _require_ids(object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        _require_ids(object_pk, user_id)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        _require_ids(object_pk, group_id)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


def _require_ids(*values: str) -> None:
    for value in values:
        try:
            parse_int(value, min_value=1, max_value=ID_MAX)
        except InvalidInput:
            raise Http404 from None


@admin.register(StoreRoom)
class StoreRoomAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "building", "floor", "template"]
    filter_horizontal = ["keepers"]


@admin.register(ShelvingUnit)
class ShelvingUnitAdmin(admin.ModelAdmin):
    """New units get every position (columns × sections × layers × sides) at once."""

    list_display = ["room", "code", "name", "kind", "columns", "sections", "layers", "sides"]
    list_filter = ["room", "kind"]

    def get_readonly_fields(self, request, obj=None):
        # The address grid is fixed once positions exist.
        if obj is not None:
            return ["room", "code", "columns", "sections", "layers", "sides"]
        return []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            Position.objects.bulk_create(services.build_positions(obj), batch_size=1000)


@admin.register(Box)
class BoxAdmin(admin.ModelAdmin):
    list_display = ["code", "fonds", "position"]
    raw_id_fields = ["position"]
    search_fields = ["code"]

    def get_readonly_fields(self, request, obj=None):
        # Placing and moving a box is a recorded move (staff pages / API), not an edit.
        return ["position"] if obj is not None else []
