"""The audit log in words: an action code (``borrowing.loan.returned``) read as "借阅 · 归还",
field names of before/after in the reader's language, and the action groups of the filter.

The rows keep their codes (append-only, language-neutral); only their display is translated.
A code not listed here is shown as it is, so a new action is never hidden.
"""

from __future__ import annotations

import functools

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from accounts.choices import Role

GROUPS = {
    "accounts": _("Accounts"),
    "repository": _("Catalogue and stores"),
    "borrowing": _("Access and loans"),
    "storage_env": _("Storage environment"),
    "devices": _("Devices"),
}

OBJECTS = {
    "user": _("account"),
    "approval_rule": _("approval rule"),
    "digital": _("digital copy"),
    "loan": _("loan"),
    "record": _("record"),
    "request": _("access request"),
    "sensor": _("sensor"),
    "box": _("box"),
    "catalogue": _("catalogue"),
    "fonds": _("fonds"),
    "import": _("import"),
    "opening": _("opening review"),
    "room": _("store room"),
    "stocktake": _("stocktake"),
    "unit": _("shelving unit"),
    "alarm": _("alarm"),
    "notification_channel": _("notification channel"),
    "policy": _("climate policy"),
}

EVENTS = {
    "account_updated": pgettext_lazy("audit event", "account updated"),
    "clearance_changed": pgettext_lazy("audit event", "clearance changed"),
    "created": pgettext_lazy("audit event", "created"),
    "password_set": pgettext_lazy("audit event", "password set"),
    "profile_updated": pgettext_lazy("audit event", "profile updated"),
    "roles_changed": pgettext_lazy("audit event", "roles changed"),
    "changed": pgettext_lazy("audit event", "changed"),
    "deleted": pgettext_lazy("audit event", "deleted"),
    "expired": pgettext_lazy("audit event", "expired"),
    "granted": pgettext_lazy("audit event", "granted"),
    "viewed": pgettext_lazy("audit event", "viewed"),
    "checked_out": pgettext_lazy("audit event", "checked out"),
    "reminded": pgettext_lazy("audit event", "reminder sent"),
    "renewed": pgettext_lazy("audit event", "renewed"),
    "returned": pgettext_lazy("audit event", "returned"),
    "reshelved": pgettext_lazy("audit event", "reshelved"),
    "submitted": pgettext_lazy("audit event", "submitted"),
    "decided": pgettext_lazy("audit event", "decided"),
    "retrieved": pgettext_lazy("audit event", "retrieved"),
    "closed": pgettext_lazy("audit event", "closed"),
    "cancelled": pgettext_lazy("audit event", "cancelled"),
    "calibrated": pgettext_lazy("audit event", "calibrated"),
    "disabled": pgettext_lazy("audit event", "disabled"),
    "enabled": pgettext_lazy("audit event", "enabled"),
    "registered": pgettext_lazy("audit event", "registered"),
    "moved": pgettext_lazy("audit event", "moved"),
    "records_added": pgettext_lazy("audit event", "records added"),
    "records_removed": pgettext_lazy("audit event", "records removed"),
    "updated": pgettext_lazy("audit event", "updated"),
    "exported": pgettext_lazy("audit event", "exported"),
    "permissions_changed": pgettext_lazy("audit event", "permissions changed"),
    "queued": pgettext_lazy("audit event", "queued"),
    "renumbered": pgettext_lazy("audit event", "renumbered"),
    "keepers_changed": pgettext_lazy("audit event", "keepers changed"),
    "opened": pgettext_lazy("audit event", "opened"),
    "acknowledged": pgettext_lazy("audit event", "acknowledged"),
    "cleared": pgettext_lazy("audit event", "cleared"),
    "tested": pgettext_lazy("audit event", "tested"),
    "undone": pgettext_lazy("audit event", "undone"),
}

FIELDS = {
    "state": _("state"),
    "status": _("status"),
    "position": _("position"),
    "box": _("box"),
    "due_date": _("due date"),
    "roles": _("roles"),
    "clearance": _("clearance"),
    "reason": _("reason"),
    "note": _("note"),
    "keepers": _("keepers"),
    "title": _("title"),
    "reference_code": _("reference code"),
    "records": _("records"),
    "code": _("code"),
    "is_active": _("active"),
    "display_name": _("display name"),
    "email": _("email"),
    "decision": _("decision"),
    "renewals": _("renewals"),
    "record": _("record"),
    "request": _("access request"),
    "number": _("number"),
    "step": _("step"),
    "refused": _("refused lines"),
    "approved": _("approved lines"),
    "chain": _("approval chain"),
    "fonds": _("fonds"),
    "used": _("used"),
}


def action_label(code: str) -> str:
    """``borrowing.loan.returned`` → "借阅 · 归还" (the code itself if unknown)."""
    parts = code.split(".")
    if len(parts) != 3 or parts[1] not in OBJECTS or parts[2] not in EVENTS:
        return code
    return f"{OBJECTS[parts[1]]} · {EVENTS[parts[2]]}"


@functools.cache
def _vocabulary() -> tuple[dict, dict]:
    """Field names and choice labels of every installed model, read from the app registry
    (no import of the apps above this one): ``state`` → 状态, ``checked_out`` → 已借出."""
    names: dict = {}
    values: dict = {}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not getattr(field, "concrete", False):
                continue
            names.setdefault(field.name, field.verbose_name)
            for value, label in getattr(field, "flatchoices", None) or []:
                values.setdefault((field.name, str(value)), label)
                values.setdefault(("", str(value)), label)
    for value, label in Role.choices:  # roles are groups, not a field with choices
        values.setdefault(("roles", value), label)
        values.setdefault(("", value), label)
    return names, values


def field_label(name: str) -> str:
    if name in FIELDS:
        return str(FIELDS[name])
    return str(_vocabulary()[0].get(name, name))


KINDS = {"item": _("item"), "volume": _("volume")}  # a record's kind (件, 卷)


def value_label(field: str, value) -> str:
    if field == "kind" and value in KINDS:
        return str(KINDS[value])
    values = _vocabulary()[1]
    label = values.get((field, str(value))) or values.get(("", str(value)))
    return str(label) if label is not None else str(value)


def changes(before, after) -> list[tuple[str, str, str]]:
    """Rows of (field, before, after) for the fields that an entry records."""
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        rows.append((field_label(key), _show(before.get(key), key), _show(after.get(key), key)))
    return rows


def _show(value, field: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return "、".join(_show(v, field) for v in value) or "—"
    if isinstance(value, dict):
        colon = pgettext("separator", ": ")
        return "; ".join(f"{field_label(k)}{colon}{_show(v, k)}" for k, v in value.items())
    if isinstance(value, str):
        return value_label(field, value)
    return str(value)
