"""Sign-in, sign-out, password change and the post-login landing. Thin adapters."""

from __future__ import annotations

import csv
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.mail import send_mail
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.dateparse import parse_date
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from accounts import audit_words, readers
from accounts.forms import (
    IdentityCheckForm,
    RegistrationForm,
    RenewIdentityForm,
    WalkInForm,
)
from accounts.models import AuditLog, ReaderProfile, User
from accounts.permissions import requires
from accounts.roles import can_administer, can_register_readers
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


# --- readers: registration, e-mail verification, password reset, the desk ------------------


def _send_verification(request: HttpRequest, user: User) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = request.build_absolute_uri(
        reverse("accounts:verify-email", args=[uid, readers.verification_token(user)])
    )
    subject = _("Confirm your e-mail address")
    body = _("Open this link to confirm your e-mail address: %(link)s") % {"link": link}
    transaction.on_commit(
        partial(send_mail, subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    )


def register(request: HttpRequest) -> HttpResponse:
    """Public self-registration (利用者注册): real name, phone or e-mail, identity document."""
    if request.user.is_authenticated:
        return redirect("public:home")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                user = readers.register_reader(**data)
                if user.email:
                    _send_verification(request, user)
        except readers.IdentityError as exc:
            form.add_error(None, exc)
        else:
            return render(request, "accounts/register_done.html", {"reader": user})
    return render(request, "accounts/register.html", {"form": form})


def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None
    ok = readers.verify_email(user, token)
    return render(request, "accounts/verify_email.html", {"ok": ok}, status=200 if ok else 400)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@requires(can_register_readers)
def walk_in(request: HttpRequest) -> HttpResponse:
    """Walk-in registration by the front desk (单位, 介绍信 scan, contact, the document seen)."""
    form = WalkInForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            user = readers.register_walk_in(acting_user=request.user, **data)
        except readers.IdentityError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Reader %(name)s registered.") % {"name": user})
            return redirect("accounts:reader", pk=user.reader_profile.pk)
    return render(request, "accounts/walk_in.html", {"form": form})


@requires(can_register_readers)
def reader(request: HttpRequest, pk: int) -> HttpResponse:
    """A reader's registration at the desk: identity check (who, when, document seen)."""
    try:
        profile = ReaderProfile.objects.select_related("user", "identity_checked_by").get(pk=pk)
    except ReaderProfile.DoesNotExist:
        raise Http404 from None
    renew = RenewIdentityForm(request.POST if request.POST.get("action") == "renew" else None)
    if renew.is_bound:  # a renewed document (the old one expired): needs a new check
        if renew.is_valid():
            try:
                readers.update_identity(profile, acting_user=request.user, **renew.cleaned_data)
            except readers.IdentityError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("New identity document registered."))
        return redirect("accounts:reader", pk=profile.pk)
    form = IdentityCheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            readers.record_identity_check(
                profile, acting_user=request.user, document_seen=form.cleaned_data["document_seen"]
            )
        except readers.IdentityError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Identity check recorded."))
        return redirect("accounts:reader", pk=profile.pk)
    context = {"profile": profile, "form": form, "renew_form": RenewIdentityForm()}
    return render(request, "accounts/reader.html", context)
