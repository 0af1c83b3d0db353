"""Staff pages of the opening review (开放审核) desk: the queue (total, pages, look-ahead,
filters, batch decisions), a decision page with the whole record, and the XLSX review sheet
(out and back in). Thin adapters over ``repository.services.opening``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from openpyxl import load_workbook

from accounts.models import AuditLog
from core.errors import DomainError
from repository import access, listing, services
from repository.exports import xlsx_bytes
from repository.forms import RecordForm
from repository.models import Fonds
from repository.review_forms import (
    BatchDecisionForm,
    QueueFilterForm,
    ReviewDecisionForm,
    SheetUploadForm,
)
from repository.validation import format_partial_date
from repository.views.common import archivist_required

PAGE_SIZE = 50


def _queue(request: HttpRequest):
    """The filtered queue of one kind, through the record door and the fonds the user may
    review. Returns (form, kind, queryset)."""
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    kind = data.get("kind") or "item"
    model = listing.KINDS[kind]
    fonds_ids = [f.pk for f in Fonds.objects.all() if access.can_review(request.user, f)]
    qs = services.review_queue_for(model, ahead_months=data.get("ahead") or 0)
    qs = qs.filter(fonds_id__in=fonds_ids).visible_to(request.user)
    if data.get("fonds"):
        qs = qs.filter(fonds=data["fonds"])
    if data.get("category"):
        qs = qs.filter(category=data["category"])
    if data.get("year"):
        year = data["year"]
        qs = qs.filter(date_end__year=year) | qs.filter(date_end__isnull=True, filing_year=year)
    if data.get("classification") is not None:
        qs = qs.filter(classification=data["classification"])
    if data.get("creator"):
        qs = qs.filter(creator__icontains=data["creator"])
    return form, kind, qs.select_related("fonds", "category").order_by("date_end", "id")


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_review_queue(request: HttpRequest) -> HttpResponse:
    """The queue with its total, pages through all due records; a POST takes one batch
    decision on the selected records (all or nothing, one message per refused record)."""
    batch_form = BatchDecisionForm(request.POST or None)
    if request.method == "POST":
        records = services.records_for_keys(request.POST.getlist("selected"), user=request.user)
        if not records:
            messages.error(request, _("Select at least one record."))
        elif batch_form.is_valid():
            data = batch_form.cleaned_data
            try:
                services.decide_openings(
                    records,
                    data["decision"],
                    acting_user=request.user,
                    reason=data["reason"],
                    next_review_on=data["next_review_on"],
                    redaction_note=data["redaction_note"],
                    unit_name=data["unit_name"],
                    unit_opinion_on=data["unit_opinion_on"],
                    unit_opinion=data["unit_opinion"],
                )
            except ValidationError as exc:
                messages.error(request, _("Nothing was decided; refused:"))
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(
                    request,
                    _("Review decision recorded for %(n)d records.") % {"n": len(records)},
                )
                return redirect(request.get_full_path())
    form, kind, qs = _queue(request)
    paginator = Paginator(qs, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "repository/staff/review_queue.html",
        {
            "filter_form": form,
            "batch_form": batch_form,
            "kind": kind,
            "page": page,
            "total": paginator.count,
            "query": query.urlencode(),
            "sheet_form": SheetUploadForm(),
        },
    )


@archivist_required
def staff_review_sheet(request: HttpRequest) -> HttpResponse:
    """The queue (same filters) as an XLSX review sheet to fill in and upload back."""
    _form, _kind, qs = _queue(request)
    header = [str(label) for _key, label in services.SHEET_COLUMNS]
    body = xlsx_bytes(services.review_sheet_rows(qs.iterator()), header, title="review")
    response = HttpResponse(
        body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="review-sheet.xlsx"'
    return response


@archivist_required
@require_POST
def staff_review_sheet_upload(request: HttpRequest) -> HttpResponse:
    form = SheetUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose the filled-in review sheet."))
        return redirect("repository:staff-review")
    try:
        book = load_workbook(form.cleaned_data["file"], read_only=True, data_only=True)
        rows = list(book.active.iter_rows(values_only=True))
    except Exception:  # not an .xlsx: openpyxl raises several kinds
        messages.error(request, _("The file is not an .xlsx review sheet."))
        return redirect("repository:staff-review")
    keys = [key for key, _label in services.SHEET_COLUMNS]
    parsed = [
        (number, dict(zip(keys, row, strict=False)))
        for number, row in enumerate(rows[1:5001], start=2)
    ]
    try:
        done = services.apply_review_sheet(parsed, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, _("Nothing was decided; refused:"))
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Review decision recorded for %(n)d records.") % {"n": done})
    return redirect("repository:staff-review")


def _history(record) -> list[AuditLog]:
    content_type = ContentType.objects.get_for_model(record)
    return list(
        AuditLog.objects.filter(object_type=content_type, object_id=str(record.pk)).order_by("-at")[
            :50
        ]
    )


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_review_decide(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    form = ReviewDecisionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.decide_opening(
                record,
                data["decision"],
                acting_user=request.user,
                reason=data["reason"],
                next_review_on=data["next_review_on"],
                withheld_pages=data["withheld_pages"],
                redaction_note=data["redaction_note"],
                unit_name=data["unit_name"],
                unit_opinion_on=data["unit_opinion_on"],
                unit_opinion=data["unit_opinion"],
                unit_attachment=data.get("unit_attachment"),
            )
        except ValidationError as exc:
            RecordForm.add_service_errors(form, exc)
        except (DomainError, PermissionDenied) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Review decision recorded."))
            return redirect("repository:staff-review")
    return render(
        request,
        "repository/staff/review_decide.html",
        {
            "form": form,
            "record": record,
            "kind": kind,
            "date_text": format_partial_date(
                record.date_start, record.date_end, record.date_precision
            ),
            "pages": record.pages_digitised.all()[:200],
            "reviews": record.reviews.select_related("decided_by")[:20],
            "declassifications": record.declassifications.all()[:20],
            "secrecy": services.term_of(record),
            "history": _history(record),
        },
    )
