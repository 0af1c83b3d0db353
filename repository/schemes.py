"""Fonds description, categories and reference-code patterns, managed outside the Django admin
(issue 14). Action functions: atomic, ``acting_user`` keyword-only, one audit row each.

- ``update_fonds(fonds, changes, *, acting_user)``: the fonds-level description of DA/T 18-2022
  (立档单位, 档案馆代码, 起止年度, 组织机构沿革, 档案保管沿革) and the name.
- ``set_code_pattern(fonds, pattern, *, acting_user)``: the fonds' 档号 pattern (validated by
  ``codes.validate_pattern``). Existing codes are never rewritten (DA/T 13-2022 §4.3); a new
  pattern applies to codes assigned from now on.
- ``create_category(fonds, *, acting_user, code, name, parent=None)`` and
  ``update_category(category, changes, *, acting_user)``: 门类/类别 (a level under a parent
  gives the "·" joined path, ``codes.category_path``). A category's code is part of its
  records' codes: it cannot change while records use it.

Who: administrators, and archivists who may change the fonds (``access.can_change_fonds``).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Role
from accounts.permissions import has_role
from core.errors import NotAllowed
from repository import codes
from repository.access import can_change_fonds
from repository.models import Category, Fonds, Item, Volume
from repository.roles import can_catalogue

FONDS_FIELDS = (
    "name",
    "creating_body",
    "archive_code",
    "start_year",
    "end_year",
    "administrative_history",
    "custodial_history",
    "description",
)
CATEGORY_CODE = re.compile(r"^[A-Z0-9\u3400-\u4dbf\u4e00-\u9fff]{1,10}$")


def _require(user, fonds: Fonds | None) -> None:
    if user is None:
        return
    if has_role(user, Role.ADMINISTRATOR) or user.is_superuser:
        return
    if fonds is None or not can_catalogue(user) or not can_change_fonds(user, fonds):
        raise NotAllowed(_("You may not change this fonds."))


def _year(value, field: str):
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit() and 1000 <= int(text) <= 2999):
        raise ValidationError({field: [_("“%(value)s” is not a year.") % {"value": value}]})
    return int(text)


@transaction.atomic
def update_fonds(fonds: Fonds, changes: dict, *, acting_user) -> Fonds:
    fonds = Fonds.objects.select_for_update().get(pk=fonds.pk)
    _require(acting_user, fonds)
    before = {f: getattr(fonds, f) for f in FONDS_FIELDS}
    for field in FONDS_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field in ("start_year", "end_year"):
            value = _year(value, field)
        else:
            value = str(value or "").strip()
        setattr(fonds, field, value)
    if not fonds.name:
        raise ValidationError({"name": [_("The fonds name is mandatory.")]})
    if fonds.start_year and fonds.end_year and fonds.end_year < fonds.start_year:
        raise ValidationError({"end_year": [_("The last year is before the first year.")]})
    fonds.full_clean(exclude=["code", "code_pattern"], validate_unique=False)
    after = {f: getattr(fonds, f) for f in FONDS_FIELDS}
    changed = {k: v for k, v in after.items() if before[k] != v}
    if changed:
        fonds.save(update_fields=list(changed))
        record_event(
            "repository.fonds.updated",
            acting_user=acting_user,
            obj=fonds,
            before={k: before[k] for k in changed},
            after=changed,
        )
    return fonds


@transaction.atomic
def set_code_pattern(fonds: Fonds, pattern: dict, *, acting_user) -> Fonds:
    fonds = Fonds.objects.select_for_update().get(pk=fonds.pk)
    _require(acting_user, fonds)
    if not isinstance(pattern, dict):
        raise ValidationError({"code_pattern": [_("The pattern must name its templates.")]})
    pattern = {k: str(v).strip() for k, v in pattern.items() if str(v or "").strip()}
    try:
        codes.validate_pattern(pattern)
    except ValidationError as exc:
        raise ValidationError({"code_pattern": exc.messages}) from exc
    before = fonds.code_pattern
    if before == pattern:
        return fonds
    fonds.code_pattern = pattern
    fonds.save(update_fields=["code_pattern"])
    record_event(
        "repository.fonds.code_pattern_changed",
        acting_user=acting_user,
        obj=fonds,
        before={"code_pattern": before},
        after={"code_pattern": pattern},
        note=_("Existing reference codes are kept; the pattern applies to new codes."),
    )
    return fonds


def _check_category_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not CATEGORY_CODE.match(code):
        raise ValidationError(
            {
                "code": [
                    _(
                        "Category code “%(value)s”: capital letters, digits or 汉字, at most 10 "
                        "(one level; sub-levels are categories under a parent), e.g. WS."
                    )
                    % {"value": code}
                ]
            }
        )
    return code


@transaction.atomic
def create_category(
    fonds: Fonds, *, acting_user, code: str, name: str, parent: Category | None = None
) -> Category:
    _require(acting_user, fonds)
    code = _check_category_code(code)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("The category name is mandatory.")]})
    if parent is not None and parent.fonds_id != fonds.pk:
        raise ValidationError({"parent": [_("The parent category belongs to another fonds.")]})
    if Category.objects.filter(fonds=fonds, code=code).exists():
        raise ValidationError(
            {"code": [_("This fonds already has a category %(code)s.") % {"code": code}]}
        )
    category = Category.objects.create(fonds=fonds, code=code, name=name, parent=parent)
    record_event(
        "repository.category.created",
        acting_user=acting_user,
        obj=category,
        after={
            "fonds": fonds.code,
            "code": code,
            "path": codes.category_path(category),
            "name": name,
        },
    )
    return category


@transaction.atomic
def update_category(category: Category, changes: dict, *, acting_user) -> Category:
    category = Category.objects.select_for_update().get(pk=category.pk)
    _require(acting_user, category.fonds)
    before = {"code": category.code, "name": category.name}
    if "code" in changes:
        code = _check_category_code(changes["code"])
        if code != category.code:
            used = (
                Volume.objects.filter(category=category).exists()
                or Item.objects.filter(category=category).exists()
            )
            if used:
                raise ValidationError(
                    {
                        "code": [
                            _(
                                "Records use category %(code)s: its code is part of their "
                                "reference codes and cannot change (DA/T 13-2022 §4.3)."
                            )
                            % {"code": category.code}
                        ]
                    }
                )
            if Category.objects.filter(fonds=category.fonds, code=code).exists():
                raise ValidationError(
                    {"code": [_("This fonds already has a category %(code)s.") % {"code": code}]}
                )
            category.code = code
    if "name" in changes:
        name = str(changes["name"] or "").strip()
        if not name:
            raise ValidationError({"name": [_("The category name is mandatory.")]})
        category.name = name
    after = {"code": category.code, "name": category.name}
    changed = {k: v for k, v in after.items() if before[k] != v}
    if changed:
        category.save(update_fields=list(changed))
        record_event(
            "repository.category.updated",
            acting_user=acting_user,
            obj=category,
            before={k: before[k] for k in changed},
            after=changed,
        )
    return category
