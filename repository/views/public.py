"""The public open catalogue: fonds, categories, records, export, page images."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from repository import access, images, listing, services
from repository.models import Category, Fonds
from repository.validation import format_partial_date
from repository.views.common import client_ip, export_response, list_context


def public_fonds_list(request: HttpRequest) -> HttpResponse:
    return render(request, "repository/public/fonds_list.html", {"fonds_list": Fonds.objects.all()})


def public_fonds(request: HttpRequest, code: str) -> HttpResponse:
    fonds = get_object_or_404(Fonds, code=code)
    return render(
        request,
        "repository/public/fonds.html",
        {"fonds": fonds, "categories": fonds.categories.all()},
    )


def public_category(request: HttpRequest, code: str, category: str) -> HttpResponse:
    cat = get_object_or_404(
        Category.objects.select_related("fonds"), fonds__code=code, code=category
    )
    filters = listing.Filters.from_query(request.GET)
    filters.fonds, filters.category = cat.fonds.code, cat.pk
    qs = listing.visible_records(request.user, filters)
    context = list_context(request, filters, qs)
    context["category"] = cat
    return render(request, "repository/public/category.html", context)


def public_record(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record(request.user, kind, pk)
    services.record_classified_view(record, acting_user=request.user, ip_address=client_ip(request))
    pages = record.pages_digitised.all()
    if not access.sees_fonds(request.user, record.fonds_id):
        pages = pages.filter(withheld=False)
    context = {
        "record": record,
        "kind": kind,
        "date_text": format_partial_date(record.date_start, record.date_end, record.date_precision),
        "pages": pages[:500],
    }
    if kind == "volume":
        context["items"] = record.items.visible_to(request.user).order_by(
            "sequence", "reference_code"
        )[:200]
    return render(request, "repository/public/record.html", context)


def public_export(request: HttpRequest, fmt: str) -> HttpResponse:
    filters = listing.Filters.from_query(request.GET)
    return export_response(listing.visible_records(request.user, filters), fmt, public=True)


def page_image(request: HttpRequest, pk: int, variant: str) -> HttpResponse:
    """Thumbnail or web image of a digitised page; watermarked unless the viewer is staff
    with the fonds. Originals are served only by ``staff_page_original``."""
    if variant not in ("thumb", "web"):
        raise Http404
    page = access.access_page(request.user, pk)
    watermark = not access.sees_fonds(request.user, page.record.fonds_id)
    data = images.render_variant(page, variant, watermark=watermark)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    return response
