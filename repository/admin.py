"""Administration of the reference data: fonds (with their code pattern and object
permissions), categories, store rooms, shelving units and boxes. Records themselves are
described through the staff pages and the API (services: validation, audit, search outbox).
Shelving units and boxes are written through their services (checks, audit row); fonds and
store rooms are reference tables (see accounts.admin_doors.UNAUDITED_ADMIN_MODELS)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdmin
from guardian.shortcuts import get_group_perms, get_user_perms

from accounts.admin_doors import ServiceAdminMixin
from accounts.audit import record_event
from core.input import ID_MAX, InvalidInput, parse_int
from repository import boxes, codes, services
from repository.models import Box, Category, Fonds, Item, ShelvingUnit, StoreRoom, Volume


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


def _holds_records(**where) -> bool:
    return Item.objects.filter(**where).exists() or Volume.objects.filter(**where).exists()


class CategoryForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        if data.get("DELETE") and self.instance.pk and _holds_records(category=self.instance):
            # Refused here, before Django's own check, which would list the protected records
            # (绝密 ones too) to whoever asks; records are never deleted (档案法 §21).
            data["DELETE"] = False
            raise ValidationError(_("A category that holds records cannot be deleted."))
        return data


class CategoryInline(admin.TabularInline):
    model = Category
    form = CategoryForm
    extra = 0
    fields = ["code", "name", "parent", "opening_age_years"]


@admin.register(Fonds)
class FondsAdmin(GuardedModelAdmin):
    form = FondsForm
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [CategoryInline]

    def has_delete_permission(self, request, obj=None):
        # Records are never hard-deleted: they leave the archive only by appraisal and
        # destruction (档案法 §21: "禁止擅自销毁档案"), so a fonds that holds records is not
        # deleted, and the confirmation page, which would list every protected record (绝密
        # ones to a superuser cleared to 机密), is never drawn. No bulk delete either.
        if obj is None or _holds_records(fonds=obj):
            return False
        return super().has_delete_permission(request, obj)

    # Guardian's permission pages look ids up with the text from the address, where anything
    # but a number was a ValueError (500): an address that names no id is a 404.
    def obj_perms_manage_view(self, request, object_pk):
        _require_ids(object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        _require_ids(object_pk, user_id)
        return _audit_permission_page(
            request,
            object_pk,
            get_user_model().objects.filter(pk=user_id).first(),
            lambda: super(FondsAdmin, self).obj_perms_manage_user_view(request, object_pk, user_id),
        )

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        _require_ids(object_pk, group_id)
        return _audit_permission_page(
            request,
            object_pk,
            Group.objects.filter(pk=group_id).first(),
            lambda: super(FondsAdmin, self).obj_perms_manage_group_view(
                request, object_pk, group_id
            ),
        )


def _permissions_of(holder, fonds) -> list[str]:
    if isinstance(holder, Group):
        return sorted(get_group_perms(holder, fonds))
    return sorted(get_user_perms(holder, fonds))


def _audit_permission_page(request, object_pk, holder, view):
    """Guardian's page that sets one user's or group's permissions on a fonds: the change is
    audited with before/after, in the same transaction."""
    if request.method != "POST" or holder is None:
        return view()
    with transaction.atomic():
        fonds = Fonds.objects.filter(pk=object_pk).first()
        before = _permissions_of(holder, fonds) if fonds else []
        response = view()
        after = _permissions_of(holder, fonds) if fonds else []
        if before != after:
            who = {"group" if isinstance(holder, Group) else "user": str(holder)}
            record_event(
                "repository.fonds.permissions_changed",
                acting_user=request.user,
                obj=fonds,
                before={**who, "permissions": before},
                after={**who, "permissions": after},
            )
    return response


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

    def save_related(self, request, form, formsets, change):
        """Keepers may work in the room: a change of them is audited with before/after."""
        with transaction.atomic():
            before = _keepers(form.instance) if change else []
            super().save_related(request, form, formsets, change)
            after = _keepers(form.instance)
            if before != after:
                record_event(
                    "repository.room.keepers_changed",
                    acting_user=request.user,
                    obj=form.instance,
                    before={"keepers": before},
                    after={"keepers": after},
                )


def _keepers(room: StoreRoom) -> list[str]:
    return sorted(room.keepers.values_list("username", flat=True))


@admin.register(ShelvingUnit)
class ShelvingUnitAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Added through ``services.create_shelving_unit`` (every position at once, audited); the
    address grid is fixed once positions exist, so a unit is never changed or deleted here."""

    list_display = ["room", "code", "name", "kind", "columns", "sections", "layers", "sides"]
    list_filter = ["room", "kind"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        unit = services.create_shelving_unit(
            data["room"],
            acting_user=request.user,
            code=data["code"],
            columns=data["columns"],
            sections=data["sections"],
            layers=data["layers"],
            sides=data["sides"],
            kind=data["kind"],
            position_capacity=data["position_capacity"],
            name=data.get("name", ""),
        )
        _adopt(obj, unit)


@admin.register(Box)
class BoxAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Through repository/boxes.py: added with ``create_box``, renamed / resized / annotated
    with ``update_box`` (audited before/after). Placing and moving a box is a recorded move and
    deleting one needs a reason: both on the staff pages and the API, not here."""

    list_display = ["code", "fonds", "position"]
    raw_id_fields = ["position"]
    search_fields = ["code"]

    def get_readonly_fields(self, request, obj=None):
        return ["fonds", "room", "position"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            boxes.update_box(
                obj,
                acting_user=request.user,
                code=data["code"],
                capacity=data["capacity"],
                notes=data.get("notes", ""),
            )
            return
        box = boxes.create_box(
            acting_user=request.user,
            code=data["code"],
            fonds=data["fonds"],
            capacity=data["capacity"],
            room=data.get("room"),
            position=data.get("position"),
            notes=data.get("notes", ""),
        )
        _adopt(obj, box)


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved form instance stand for the row the service created."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db
