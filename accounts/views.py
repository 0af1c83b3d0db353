"""Sign-in, sign-out, password change and the post-login landing. Thin adapters."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from accounts.models import AuditLog
from accounts.permissions import requires
from accounts.roles import can_administer


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
    """The audit log, newest first, filterable by action and actor (administrators only),
    through its door: no row about an object the viewer may not see."""
    entries = AuditLog.objects.visible_to(request.user).select_related("object_type")
    action = request.GET.get("action", "").strip()[:64]
    actor = request.GET.get("actor", "").strip()[:150]
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_repr=actor)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request, "accounts/audit_log.html", {"page": page, "action": action, "actor": actor}
    )
