"""Domain refusals on pages, mapped once (the API maps them in ``core.api.exception_handler``).

A service refuses with a ``core.errors.DomainError``; a page view lets it through. Here:

- on a POST (any unsafe method) the refusal's messages become ``django.contrib.messages`` errors
  and the answer is a redirect back: to the Referer when it is this site, else to the page the
  view names with ``core.errors.refusal_redirect`` (an action URL that only takes POST), else to
  the GET of the same path. A double click ("retrieve" twice) is a message, not a 500;
- on a GET, ``NotAllowed`` and ``NotFound`` are Django's 403 and 404 (they are
  ``PermissionDenied`` and ``Http404``), ``Invalid`` and ``Conflict`` the 400 page with the message
  and the status of their kind (409 for a conflict).

The API never gets here: DRF handles exceptions inside its views.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import DomainError, NotAllowed, NotFound, status_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs) -> None:
        back = getattr(view_func, "refusal_redirect", None)
        if back is not None:
            request._refusal_redirect = (back, view_kwargs)  # type: ignore[attr-defined]

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, DomainError):
            return None
        if request.method in SAFE_METHODS:
            if isinstance(exc, NotAllowed | NotFound):
                return None  # Django's 403 and 404 pages (handler403, handler404)
            status = status_of(exc)
            context = {"status": status, "message": " ".join(str(m) for m in exc.messages)}
            return render(request, "errors/400.html", context, status=status)
        for message in exc.messages:
            messages.error(request, str(message))
        return HttpResponseRedirect(back_url(request))


def back_url(request: HttpRequest) -> str:
    """Where a refused POST goes back to (see the module docstring)."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    declared = getattr(request, "_refusal_redirect", None)
    if declared is not None:
        back, kwargs = declared
        return back(request, **kwargs)
    return request.path
