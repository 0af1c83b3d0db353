"""Sign-in, sign-out, password change and the post-login landing. Thin adapters."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.dateparse import parse_date
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from accounts import audit_words
from accounts.models import AuditLog
from accounts.permissions import requires
from accounts.roles import can_administer
from core.output import spreadsheet_cell


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-change-done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


@login_required
def after_login(request: HttpRequest) -> HttpResponse:
    """Staff land on the staff home, researchers on the public catalogue."""
    if request.user.is_archive_staff:
        return redirect("staff:home")
    return redirect("public:home")


@requires(can_administer)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, in words; filterable by object (code or name), person,
    action group and date, and exported as CSV (administrators only). Read-only: the log
    stays append-only (accounts.models.AuditLog). Through its door: no row about an object
    the viewer may not see."""
    entries = AuditLog.objects.visible_to(request.user).select_related("object_type")
    filters = {
        key: request.GET.get(key, "").strip()[:150]
        for key in ("object", "actor", "group", "action", "since", "until")
    }
    if filters["object"]:
        entries = entries.filter(object_repr__icontains=filters["object"])
    if filters["actor"]:
        entries = entries.filter(actor_repr__icontains=filters["actor"])
    if filters["group"] in audit_words.GROUPS:
        entries = entries.filter(action__startswith=filters["group"] + ".")
    if filters["action"]:
        entries = entries.filter(action__startswith=filters["action"][:64])
    for key, lookup in (("since", "at__date__gte"), ("until", "at__date__lte")):
        day = parse_date(filters[key]) if filters[key] else None
        if filters[key] and day is None:
            filters[key] = ""  # not a date: ignored, and the field shows it was
        elif day is not None:
            entries = entries.filter(**{lookup: day})
    if request.GET.get("format") == "csv":
        return _audit_csv(entries[:10000])
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    for entry in page:
        entry.action_label = audit_words.action_label(entry.action)
        entry.changes = audit_words.changes(entry.before, entry.after)
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "accounts/audit_log.html",
        {
            "page": page,
            "filters": filters,
            "groups": audit_words.GROUPS.items(),
            "query": query,
        },
    )


def _audit_csv(entries) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 with a byte-order mark
    out = csv.writer(response)
    out.writerow(
        [
            _("Time"),
            _("User"),
            _("Action"),
            _("Code"),
            _("Object"),
            _("Field"),
            _("Before"),
            _("After"),
        ]
    )
    for entry in entries:
        rows = audit_words.changes(entry.before, entry.after) or [("", "", "")]
        for field, before, after in rows:
            out.writerow(
                spreadsheet_cell(str(v))
                for v in (
                    localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.actor_repr,
                    audit_words.action_label(entry.action),
                    entry.action,
                    entry.object_repr,
                    field,
                    before,
                    after,
                )
            )
    return response
