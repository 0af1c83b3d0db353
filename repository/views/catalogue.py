"""Staff pages of the catalogue: the record list, export, hierarchy, a record, and its edits
(new, edit, renumber, delete, move, page upload, replace and delete, original scan)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import staff_required
from core.downloads import protected_file
from repository import access, images, listing, services
from repository.choices import AccessStatus
from repository.forms import (
    MoveForm,
    NewRecordForm,
    PageReplaceForm,
    PageUploadForm,
    RecordForm,
    RenumberForm,
)
from repository.models import Fonds
from repository.validation import format_partial_date
from repository.views.common import archivist_required, client_ip, export_response, list_context


@staff_required
def staff_catalogue(request: HttpRequest) -> HttpResponse:
    """The staff record list: filters, keyset pages, export links."""
    filters = listing.Filters.from_query(request.GET)
    qs = listing.visible_records(request.user, filters)
    context = list_context(request, filters, qs)
    context["fonds_list"] = Fonds.objects.all()
    context["statuses"] = AccessStatus.choices
    return render(request, "repository/staff/catalogue.html", context)


@staff_required
def staff_export(request: HttpRequest, fmt: str) -> HttpResponse:
    filters = listing.Filters.from_query(request.GET)
    response = export_response(listing.visible_records(request.user, filters), fmt)
    services.record_export(
        acting_user=request.user, kind=filters.kind, query=filters.as_query(), fmt=fmt
    )
    return response


@staff_required
def staff_hierarchy(request: HttpRequest) -> HttpResponse:
    """Fonds → categories, with links into the record list (no counts over big tables)."""
    fonds_list = Fonds.objects.prefetch_related("categories")
    return render(request, "repository/staff/hierarchy.html", {"fonds_list": fonds_list})


@staff_required
def staff_record(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record(request.user, kind, pk)
    services.record_classified_view(record, acting_user=request.user, ip_address=client_ip(request))
    context = {
        "record": record,
        "kind": kind,
        "date_text": format_partial_date(record.date_start, record.date_end, record.date_precision),
        "can_change": access.can_change_fonds(request.user, record.fonds),
        "moves": record.moves.select_related("from_position", "to_position", "moved_by")[:20],
        "reviews": record.reviews.select_related("decided_by")[:10],
        "pages": record.pages_digitised.all()[:200],
        "move_form": MoveForm(),
        "sees_original": access.sees_original(request.user, record),
    }
    if kind == "volume":
        context["items"] = record.items.visible_to(request.user).order_by(
            "sequence", "reference_code"
        )[:200]
    return render(request, "repository/staff/record.html", context)


def _record_data(form) -> dict:
    data = dict(form.cleaned_data)
    return data


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_record_new(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in listing.KINDS:
        raise Http404
    fonds_qs = Fonds.objects.all()
    if not request.user.is_superuser:
        fonds_qs = Fonds.objects.filter(
            pk__in=[f.pk for f in fonds_qs if access.can_change_fonds(request.user, f)]
        )
    form = NewRecordForm(request.POST or None, fonds_qs=fonds_qs, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            record = services.create_record(
                kind, _record_data(form), acting_user=request.user, door=_("the description form")
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Record %(code)s created.") % {"code": record.reference_code}
            )
            return redirect("repository:staff-record", kind=kind, pk=record.pk)
    return render(request, "repository/staff/record_form.html", {"form": form, "kind": kind})


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_record_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    initial = {f: getattr(record, f) for f in services.EDITABLE_FIELDS}
    initial["reference_code"] = record.reference_code
    initial["secrecy_period"] = record.secrecy_period  # the SecrecyTerm's label; reads back
    initial["date"] = record.date8  # 8 digits, [考证] kept: saving the form keeps the flag
    form = RecordForm(request.POST or None, initial=initial)
    form.fields["reference_code"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "reference_code"}
        try:
            services.update_record(
                record, data, acting_user=request.user, door=_("the description form")
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            return redirect("repository:staff-record", kind=kind, pk=record.pk)
    return render(
        request,
        "repository/staff/record_form.html",
        {
            "form": form,
            "kind": kind,
            "record": record,
            "renumber_form": RenumberForm(),
            "removable_draft": services.is_removable_draft(record),
        },
    )


@archivist_required
@require_POST
def staff_record_renumber(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    form = RenumberForm(request.POST)
    if form.is_valid():
        try:
            services.renumber_record(
                record,
                form.cleaned_data["new_code"],
                acting_user=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Renumbered."))
    else:
        messages.error(request, _("Give the new code and a reason."))
    return redirect("repository:staff-record", kind=kind, pk=pk)


@archivist_required
@require_POST
def staff_record_delete(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    try:
        services.delete_record(record, acting_user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("repository:staff-record", kind=kind, pk=pk)
    messages.success(request, _("Deleted."))
    return redirect("repository:staff-catalogue")


@staff_required
@require_POST
def staff_record_move(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record(request.user, kind, pk)
    form = MoveForm(request.POST)
    if form.is_valid():
        try:
            services.move_record(
                record,
                form.cleaned_data["to_position"],
                acting_user=request.user,
                reason=form.cleaned_data["reason"],
            )
        except (ValidationError, PermissionDenied) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(request, _("Moved."))
    else:
        messages.error(request, _("Give the position code and a reason."))
    return redirect("repository:staff-record", kind=kind, pk=pk)


@archivist_required
@require_POST
def staff_page_upload(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    form = PageUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services_pages = images.add_digital_page(
                record,
                form.cleaned_data["image"],
                acting_user=request.user,
                page_number=form.cleaned_data.get("page_number"),
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Page %(n)d added.") % {"n": services_pages.page_number})
    else:
        messages.error(request, _("Choose an image file."))
    return redirect("repository:staff-record", kind=kind, pk=pk)


def _back_to_record(page) -> HttpResponse:
    kind = "volume" if page.volume_id else "item"
    return redirect("repository:staff-record", kind=kind, pk=page.record.pk)


@archivist_required
@require_POST
def staff_page_replace(request: HttpRequest, pk: int) -> HttpResponse:
    """A new scan of a page (same number, same withheld state); its text is read again."""
    page = access.access_page_for_change(request.user, pk)
    form = PageReplaceForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose an image file."))
        return _back_to_record(page)
    try:
        images.replace_digital_page(page, form.cleaned_data["image"], acting_user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Page %(n)d replaced.") % {"n": page.page_number})
    return _back_to_record(page)


@archivist_required
@require_POST
def staff_page_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a page (its scans and text; search forgets its words at once)."""
    page = access.access_page_for_change(request.user, pk)
    number = page.page_number
    images.delete_digital_page(page, acting_user=request.user)
    messages.success(request, _("Page %(n)d deleted.") % {"n": number})
    return _back_to_record(page)


@staff_required
def staff_page_original(request: HttpRequest, pk: int) -> HttpResponseBase:
    page = access.access_page(request.user, pk)
    if not access.sees_original(request.user, page.record):
        raise Http404
    return protected_file(page.original, filename=page.original.name.rsplit("/", 1)[-1])
