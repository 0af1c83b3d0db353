"""Project-level views: health, public home, staff home, error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework import exceptions

from accounts.choices import Role
from accounts.permissions import staff_required
from core.health import public_view, run_checks
from core.input import InvalidInput


@never_cache
@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """The process answers (nothing else is touched): for a watchdog or a liveness probe."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """This node can serve pages (its database answers): for a load balancer. Redis, search
    or a worker being down does not take a web node out of service."""
    healthy, checks = run_checks(["database"])
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": public_view(checks)},
        status=200 if healthy else 503,
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Every part for operators (database, channel layer, search, workers, backups); 503 when a
    required part is down. Hosts, client ids and error texts only to administrators."""
    healthy, checks = run_checks()
    user = request.user
    if not (user.is_authenticated and user.has_role(Role.ADMINISTRATOR)):
        checks = public_view(checks)
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "time": timezone.now(), "checks": checks},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )


def public_home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html")


@staff_required
def staff_home(request: HttpRequest) -> HttpResponse:
    labels = dict(Role.choices)
    roles = [labels.get(name, name) for name in sorted(request.user.role_names)]
    return render(request, "staff/home.html", {"user_roles": roles})


def _api_error(request: HttpRequest, error: type[exceptions.APIException], errors=None):
    """Under /api/ an error Django answers before DRF (an address no route matches, a
    request Django refuses) keeps the API's error shape (``core.api.exception_handler``):
    JSON, ``{"detail", "errors"?}``, not a page."""
    if not request.path.startswith("/api/"):
        return None
    body: dict = {"detail": str(error.default_detail)}
    if errors:
        body["errors"] = errors
    return JsonResponse(
        body,
        status=error.status_code,
        json_dumps_params={"ensure_ascii": False},
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _api_error(request, exceptions.NotFound) or render(
        request, "errors/404.html", status=404
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _api_error(request, exceptions.APIException) or render(
        request, "errors/500.html", status=500
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _api_error(request, exceptions.PermissionDenied) or render(
        request, "errors/403.html", status=403
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 400 page; an ``InvalidInput`` refusal (core/input.py) shows its reason."""
    message = exception.message if isinstance(exception, InvalidInput) else ""
    field = getattr(exception, "field", "") or "non_field_errors"
    errors = {field: [message or str(exceptions.ValidationError.default_detail)]}
    return _api_error(request, exceptions.ValidationError, errors) or render(
        request, "errors/400.html", {"message": message}, status=400
    )
