"""What the repository's pages share: role decorators, the list context, export responses,
service errors on a form."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponseBase

from accounts.permissions import requires
from core.streaming import StreamingFileResponse, StreamingResponse
from repository import exports, listing
from repository.forms import RecordForm
from repository.roles import can_catalogue, can_take_stock

archivist_required = requires(can_catalogue)


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def list_context(request: HttpRequest, filters: listing.Filters, base_qs) -> dict:
    page = listing.keyset_page(
        base_qs.select_related("fonds", "category"),
        after=request.GET.get("after", "")[:64],
        size=listing.page_size(request.GET),
    )
    query = filters.as_query()
    return {
        "page": page,
        "filters": filters,
        "query": urlencode(query),
        "next_query": urlencode({**query, "after": page.next_after}) if page.next_after else "",
    }


def export_response(qs, fmt: str, *, public: bool = False) -> HttpResponseBase:
    """Streamed, under ASGI too (core/streaming.py): CSV line by line from the cursor, XLSX
    from a temporary file."""
    if fmt == "csv":
        response = StreamingResponse(exports.csv_stream(qs, public=public), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="catalogue.csv"'
        return response
    if fmt == "xlsx":
        return StreamingFileResponse(
            exports.xlsx_export(qs, public=public),
            as_attachment=True,
            filename="catalogue.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    raise Http404


def form_errors(form, exc: ValidationError) -> None:
    RecordForm.add_service_errors(form, exc)


stocktake_required = requires(can_take_stock)
