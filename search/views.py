"""Search pages (public and staff) and the type-ahead endpoint: thin adapters over
``search.services``. Bad parameters answer 400 with the reasons on the page; an unreachable
engine answers 503 with a clear notice (record edits are unaffected: they only write the outbox).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.permissions import staff_required
from repository.choices import AccessStatus, Carrier, Retention
from search.backends import SearchUnavailable
from search.query import FACETS, SORTS, SearchInputError, parse_search_params
from search.services import search_records, suggest_records

SORT_LABELS = {
    "relevance": gettext_lazy("Relevance"),
    "date": gettext_lazy("Date, oldest first"),
    "-date": gettext_lazy("Date, newest first"),
    "code": gettext_lazy("Reference code"),
}
FACET_LABELS = {
    "fonds": gettext_lazy("Fonds"),
    "category": gettext_lazy("Category"),
    "year": gettext_lazy("Year"),
    "carrier": gettext_lazy("Carrier"),
    "retention": gettext_lazy("Retention"),
    "access_status": gettext_lazy("Access status"),
}


def _url(name: str, *args: Any) -> str | None:
    """Reverse a URL of another app if it exists (the pages of other apps are optional here)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _links(hit, *, staff: bool) -> dict[str, str | None]:
    kind, pk = hit.kind, hit.pk
    page = _url("repository:page-image", hit.page.page_id, "web") if hit.page else None
    if staff:
        return {"record": _url("repository:staff-record", kind, pk), "request": None, "page": page}
    request_url = _url("borrowing:new-request")
    return {
        "record": _url("repository:public-record", kind, pk),
        "request": f"{request_url}?{urlencode({kind: pk})}" if request_url else None,
        "page": page,
    }


def _render(request: HttpRequest, *, staff: bool) -> HttpResponse:
    template = "search/staff.html" if staff else "search/public.html"
    user = request.user if staff else None  # the public page always shows the open catalogue
    context: dict[str, Any] = {
        "q": request.GET.get("q", "")[:200],
        "sorts": [(s, SORT_LABELS[s]) for s in SORTS],
        "facet_labels": FACET_LABELS,
        "choices": {
            "carrier": Carrier.choices,
            "retention": Retention.choices,
            "access_status": AccessStatus.choices,
        },
        "params": request.GET,
        "selected": {k: request.GET.getlist(k) for k in ("fonds", "category", *FACETS)},
        "staff": staff,
    }
    has_input = any(request.GET.get(k) for k in request.GET if k != "page")
    try:
        search = parse_search_params(request.GET, default_facets=FACETS if staff else ())
        context["sort"] = search.sort
        if not staff and not search.query:
            return render(request, template, context)
        result = search_records(user, search)
    except SearchInputError as exc:
        context["errors"] = exc.errors
        return render(request, template, context, status=400)
    except SearchUnavailable:
        context["degraded"] = True
        return render(request, template, context, status=503)
    for hit in result.hits:
        hit.links = _links(hit, staff=staff)
    query = request.GET.copy()
    query.pop("cursor", None)
    query.pop("page", None)
    context.update(
        result=result,
        searched=has_input or staff,
        base_query=query.urlencode(),
        next_url=(
            f"?{query.urlencode()}&{urlencode({'cursor': result.next_cursor})}"
            if result.next_cursor
            else None
        ),
        prev_page=search.page - 1 if search.page > 1 and search.after is None else None,
    )
    return render(request, template, context)


@require_GET
def public_search(request: HttpRequest) -> HttpResponse:
    return _render(request, staff=False)


@require_GET
@staff_required
def staff_search(request: HttpRequest) -> HttpResponse:
    return _render(request, staff=True)


def _suggest(request: HttpRequest, user) -> JsonResponse:
    prefix = request.GET.get("q", "")
    if len(prefix) > 100:
        return JsonResponse({"detail": _("The prefix is too long.")}, status=400)
    try:
        suggestions = suggest_records(user, prefix)
    except SearchUnavailable:
        return JsonResponse({"detail": _("Search is unavailable."), "suggestions": []}, status=503)
    return JsonResponse(
        {
            "suggestions": [
                {"text": s.text, "reference_code": s.reference_code, "kind": s.kind, "id": s.pk}
                for s in suggestions
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )


@require_GET
def public_suggest(request: HttpRequest) -> JsonResponse:
    return _suggest(request, None)


@require_GET
@staff_required
def staff_suggest(request: HttpRequest) -> JsonResponse:
    return _suggest(request, request.user)
