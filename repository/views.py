"""Pages of the catalogue and the store rooms. Thin adapters: parse, one access helper, one
service, render. Staff pages under ``staff/``; the public open catalogue under ``catalogue/``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.choices import Role
from accounts.permissions import role_required, staff_required
from core.input import ID_MAX, parse_int
from repository import (
    access,
    boxes,
    exports,
    images,
    import_jobs,
    imports,
    labels,
    listing,
    services,
)
from repository import stocktake as stocktakes
from repository.forms import (
    BoxAddForm,
    BoxDeleteForm,
    BoxEditForm,
    BoxForm,
    BoxRemoveForm,
    DecisionForm,
    ImportForm,
    LabelForm,
    MoveForm,
    NewRecordForm,
    PageUploadForm,
    RecordForm,
    RenumberForm,
    ShelvingUnitForm,
    StocktakeForm,
    WhereIsForm,
)
from repository.models import Box, Category, Fonds, Move, Stocktake, StocktakeScan, StoreRoom
from repository.validation import format_partial_date

archivist_required = role_required(Role.ARCHIVIST, Role.ADMINISTRATOR)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _list_context(request: HttpRequest, filters: listing.Filters, base_qs) -> dict:
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


# --- staff: catalogue -----------------------------------------------------------------------


@staff_required
def staff_catalogue(request: HttpRequest) -> HttpResponse:
    """The staff record list: filters, keyset pages, export links."""
    filters = listing.Filters.from_query(request.GET)
    qs = listing.visible_records(request.user, filters)
    context = _list_context(request, filters, qs)
    context["fonds_list"] = Fonds.objects.all()
    context["statuses"] = services.AccessStatus.choices
    return render(request, "repository/staff/catalogue.html", context)


@staff_required
def staff_export(request: HttpRequest, fmt: str) -> HttpResponse:
    filters = listing.Filters.from_query(request.GET)
    response = export_response(listing.visible_records(request.user, filters), fmt)
    services.record_export(
        acting_user=request.user, kind=filters.kind, query=filters.as_query(), fmt=fmt
    )
    return response


def export_response(qs, fmt: str, *, public: bool = False) -> HttpResponse:
    if fmt == "csv":
        stream = exports.csv_stream(qs, public=public)
        response = StreamingHttpResponse(stream, content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="catalogue.csv"'
        return response
    if fmt == "xlsx":
        response = HttpResponse(
            exports.xlsx_export(qs, public=public),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="catalogue.xlsx"'
        return response
    raise Http404


@staff_required
def staff_hierarchy(request: HttpRequest) -> HttpResponse:
    """Fonds → categories, with links into the record list (no counts over big tables)."""
    fonds_list = Fonds.objects.prefetch_related("categories")
    return render(request, "repository/staff/hierarchy.html", {"fonds_list": fonds_list})


@staff_required
def staff_record(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record(request.user, kind, pk)
    services.record_classified_view(
        record, acting_user=request.user, ip_address=_client_ip(request)
    )
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
            record = services.create_record(kind, _record_data(form), acting_user=request.user)
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
    initial["date"] = format_partial_date(record.date_start, record.date_end, record.date_precision)
    form = RecordForm(request.POST or None, initial=initial)
    form.fields["reference_code"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "reference_code"}
        try:
            services.update_record(record, data, acting_user=request.user)
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
        {"form": form, "kind": kind, "record": record, "renumber_form": RenumberForm()},
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


@staff_required
def staff_page_original(request: HttpRequest, pk: int) -> HttpResponse:
    page = access.access_page(request.user, pk)
    if not access.sees_original(request.user, page.record):
        raise Http404
    return FileResponse(page.original.open("rb"), filename=page.original.name.rsplit("/", 1)[-1])


# --- staff: opening review ----------------------------------------------------------------


@archivist_required
def staff_review_queue(request: HttpRequest) -> HttpResponse:
    fonds_ids = [f.pk for f in Fonds.objects.all() if access.can_review(request.user, f)]
    rows = []
    for kind, model in listing.KINDS.items():
        queue = services.review_queue_for(model).filter(fonds_id__in=fonds_ids)
        queue = queue.visible_to(request.user).select_related("fonds", "category")[:100]
        rows += [(kind, r) for r in queue]
    return render(request, "repository/staff/review_queue.html", {"rows": rows})


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_review_decide(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record_for_change(request.user, kind, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decide_opening(
                record,
                form.cleaned_data["decision"],
                acting_user=request.user,
                reason=form.cleaned_data["reason"],
                next_review_on=form.cleaned_data["next_review_on"],
                withheld_pages=form.cleaned_data["withheld_pages"],
            )
        except ValidationError as exc:
            RecordForm.add_service_errors(form, exc)
        else:
            messages.success(request, _("Decision recorded."))
            return redirect("repository:staff-review")
    return render(
        request,
        "repository/staff/review_decide.html",
        {"form": form, "record": record, "kind": kind},
    )


# --- staff: locations ---------------------------------------------------------------------


@staff_required
def staff_where_is(request: HttpRequest) -> HttpResponse:
    form = WhereIsForm(request.GET or None)
    location = None
    searched = False
    if form.is_valid():
        searched = True
        location = services.where_is(form.cleaned_data["code"], user=request.user)
    return render(
        request,
        "repository/staff/where_is.html",
        {
            "form": form,
            "location": location,
            "searched": searched,
            "location_code": (
                getattr(location.obj, "reference_code", None) or location.obj.code
                if location
                else ""
            ),
        },
    )


@staff_required
def staff_rooms(request: HttpRequest) -> HttpResponse:
    rooms = [services.room_occupancy(room) for room in StoreRoom.objects.all()]
    return render(request, "repository/staff/rooms.html", {"rooms": rooms})


def _form_errors(form, exc: ValidationError) -> None:
    RecordForm.add_service_errors(form, exc)


@staff_required
@require_http_methods(["GET", "POST"])
def staff_room(request: HttpRequest, pk: int) -> HttpResponse:
    """One store room: its shelving units with occupancy, its boxes, and (for keepers and
    archivists) a form to add a shelving unit."""
    room = get_object_or_404(StoreRoom, pk=pk)
    can_manage = access.can_manage_locations(request.user)
    if request.method == "POST" and not can_manage:
        raise Http404
    form = ShelvingUnitForm(request.POST or None) if can_manage else None
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.create_shelving_unit(
                room, acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("Shelving unit %(code)s created with %(n)d positions.")
                % {"code": unit.code, "n": unit.positions.count()},
            )
            return redirect("repository:staff-room", pk=room.pk)
    room_boxes = boxes.with_usage(room.boxes.select_related("fonds", "position"))[:200]
    return render(
        request,
        "repository/staff/room.html",
        {
            "room": room,
            "occupancy": services.room_occupancy(room),
            "boxes": room_boxes,
            "form": form,
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def staff_boxes(request: HttpRequest) -> HttpResponse:
    """Boxes (filter by store room or code prefix) and, for keepers and archivists, a form to
    create one."""
    can_manage = access.can_manage_locations(request.user)
    if request.method == "POST" and not can_manage:
        raise Http404
    form = BoxForm(request.POST or None) if can_manage else None
    if request.method == "POST" and form.is_valid():
        try:
            box = boxes.create_box(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Box %(code)s created.") % {"code": box.code})
            return redirect("repository:staff-box", pk=box.pk)
    qs = Box.objects.select_related("fonds", "room", "position")
    room = request.GET.get("room", "")
    q = request.GET.get("q", "").strip()[:64]
    if room_id := parse_int(room, min_value=1, max_value=ID_MAX, field="room"):
        qs = qs.filter(room_id=room_id)
    if q:
        qs = qs.filter(code__startswith=q)
    page = Paginator(boxes.with_usage(qs).order_by("code"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "repository/staff/boxes.html",
        {"page": page, "form": form, "rooms": StoreRoom.objects.all(), "room": room, "q": q},
    )


@staff_required
@require_http_methods(["GET", "POST"])
def staff_box(request: HttpRequest, pk: int) -> HttpResponse:
    """A box: what is in it (records the user may not see are counted, not named), and for
    keepers and archivists forms to put records in by code, take them out, and move the box."""
    box = get_object_or_404(Box.objects.select_related("fonds", "room", "position__room"), pk=pk)
    can_manage = access.can_manage_locations(request.user)
    if request.method == "POST" and not can_manage:
        raise Http404
    contents = boxes.box_contents(box, request.user)
    codes = [r.reference_code for r in contents.records]
    action = request.POST.get("action") if request.method == "POST" else None
    add_form = BoxAddForm(request.POST if action == "add" else None)
    remove_form = BoxRemoveForm(request.POST if action == "remove" else None, codes=codes)
    move_form = MoveForm(request.POST if action == "move" else None)
    edit_form = BoxEditForm(
        request.POST if action == "edit" else None,
        initial={"code": box.code, "capacity": box.capacity, "notes": box.notes},
    )
    delete_form = BoxDeleteForm(request.POST if action == "delete" else None)
    try:
        if action == "edit" and edit_form.is_valid():
            boxes.update_box(box, acting_user=request.user, **edit_form.cleaned_data)
            messages.success(request, _("Saved."))
            return redirect("repository:staff-box", pk=box.pk)
        if action == "delete" and delete_form.is_valid():
            code = box.code
            boxes.delete_box(box, acting_user=request.user, **delete_form.cleaned_data)
            messages.success(request, _("Box %(code)s deleted.") % {"code": code})
            return redirect("repository:staff-boxes")
        if action == "add" and add_form.is_valid():
            done = boxes.put_in_box(
                add_form.cleaned_data["codes"],
                box,
                acting_user=request.user,
                reason=add_form.cleaned_data["reason"],
            )
            messages.success(request, _("%(n)d records put in the box.") % {"n": len(done)})
            return redirect("repository:staff-box", pk=box.pk)
        if action == "remove" and remove_form.is_valid():
            done = boxes.take_out_of_box(
                remove_form.cleaned_data["codes"],
                box,
                acting_user=request.user,
                to_position=remove_form.cleaned_data["to_position"] or None,
                reason=remove_form.cleaned_data["reason"],
            )
            messages.success(request, _("%(n)d records taken out.") % {"n": len(done)})
            return redirect("repository:staff-box", pk=box.pk)
        if action == "move" and move_form.is_valid():
            boxes.move_box(
                box,
                move_form.cleaned_data["to_position"],
                acting_user=request.user,
                reason=move_form.cleaned_data["reason"],
            )
            messages.success(request, _("Moved."))
            return redirect("repository:staff-box", pk=box.pk)
    except ValidationError as exc:
        form = {
            "add": add_form,
            "remove": remove_form,
            "move": move_form,
            "edit": edit_form,
            "delete": delete_form,
        }[action]
        _form_errors(form, exc)
    return render(
        request,
        "repository/staff/box.html",
        {
            "box": box,
            "contents": contents,
            "can_manage": can_manage,
            "add_form": add_form,
            "remove_form": remove_form,
            "move_form": move_form,
            "edit_form": edit_form,
            "delete_form": delete_form,
            "moves": box.moves.select_related("from_position", "to_position", "moved_by")[:20],
        },
    )


@staff_required
def staff_moves(request: HttpRequest) -> HttpResponse:
    moves = Move.objects.select_related(
        "volume", "item", "box", "from_position", "to_position", "moved_by"
    )
    visible = []
    for move in moves[:200]:
        subject = move.subject
        if (
            move.box_id
            or services.KINDS["volume" if move.volume_id else "item"]
            .objects.visible_to(request.user)
            .filter(pk=subject.pk)
            .exists()
        ):
            visible.append(move)
        if len(visible) >= 100:
            break
    return render(request, "repository/staff/moves.html", {"moves": visible})


# --- public catalogue -----------------------------------------------------------------------


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
    context = _list_context(request, filters, qs)
    context["category"] = cat
    return render(request, "repository/public/category.html", context)


def public_record(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = access.access_record(request.user, kind, pk)
    services.record_classified_view(
        record, acting_user=request.user, ip_address=_client_ip(request)
    )
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


# --- staff: import --------------------------------------------------------------------------


@archivist_required
@require_http_methods(["GET", "POST"])
def staff_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV/XLSX: a background dry run is queued and its page follows it; the commit of
    a finished dry run (``token`` + ``commit``) is queued the same way."""
    if request.method == "POST" and request.POST.get("token"):
        dry_run = import_jobs.job_for(request.user, request.POST["token"])
        if request.POST.get("commit") != "1" or import_jobs.job_report(dry_run) is None:
            return redirect("repository:staff-import-job", token=dry_run.token)
        job = import_jobs.commit_job(dry_run, acting_user=request.user)
        return redirect("repository:staff-import-job", token=job.token)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_jobs.create_job(
                upload,
                upload.name,
                acting_user=request.user,
                kind=form.cleaned_data["kind"],
                encoding=form.cleaned_data["encoding"] or None,
                all_or_nothing=form.cleaned_data["all_or_nothing"],
            )
        except import_jobs.ImportFileError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("repository:staff-import-job", token=job.token)
    return render(request, "repository/staff/import.html", {"form": form})


@archivist_required
def staff_import_job(request: HttpRequest, token: str) -> HttpResponse:
    """An import job: a progress bar while it runs, then the report (as the old page had)."""
    job = import_jobs.job_for(request.user, token)
    report = import_jobs.job_report(job)
    return render(
        request,
        "repository/staff/import_job.html",
        {
            "job": job,
            "report": report,
            "token": job.token,
            "errors": report.errors if report else [],
        },
    )


@archivist_required
def staff_import_job_status(request: HttpRequest, token: str) -> HttpResponse:
    response = JsonResponse(import_jobs.job_status(import_jobs.job_for(request.user, token)))
    response["Cache-Control"] = "no-store"
    return response


@archivist_required
def staff_import_rejected(request: HttpRequest, token: str) -> HttpResponse:
    report = import_jobs.rejected_report(import_jobs.job_for(request.user, token))
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            imports.rejected_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="rejected.xlsx"'
        return response
    response = HttpResponse(imports.rejected_csv(report), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="rejected.csv"'
    return response


# --- staff: labels ------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def staff_labels(request: HttpRequest) -> HttpResponse:
    """Print labels for record, box or position codes, or for every position of a unit."""
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        unit = form.cleaned_data.get("unit")
        if unit is not None:
            entries = services.labels_for_unit(unit)
            try:
                labels.check_count(len(entries))
            except ValidationError as exc:
                form.add_error("unit", exc)
        else:
            entries, unknown = services.labels_for_codes(
                form.cleaned_data["codes"].splitlines(), user=request.user
            )
            if unknown:
                form.add_error(
                    "codes",
                    _("Not found: %(codes)s") % {"codes": "、".join(unknown[:20])},
                )
        if form.is_valid():
            pdf = labels.labels_pdf(entries, size=form.cleaned_data["size"])
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = 'inline; filename="labels.pdf"'
            return response
    return render(request, "repository/staff/labels.html", {"form": form})


# --- stocktake ----------------------------------------------------------------------------

stocktake_required = role_required(Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR)


def _stocktake(pk: int):
    return get_object_or_404(Stocktake.objects.select_related("room", "unit"), pk=pk)


@stocktake_required
@require_http_methods(["GET", "POST"])
def staff_stocktakes(request: HttpRequest) -> HttpResponse:
    form = StocktakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            opened = stocktakes.open_stocktake(
                form.cleaned_data["room"], acting_user=request.user, unit=form.cleaned_data["unit"]
            )
        except ValidationError as exc:
            RecordForm.add_service_errors(form, exc)
        else:
            return redirect("repository:mobile-stocktake", pk=opened.pk)
    recent = Stocktake.objects.select_related("room", "unit", "opened_by")[:50]
    return render(request, "repository/staff/stocktakes.html", {"form": form, "stocktakes": recent})


@stocktake_required
def staff_stocktake(request: HttpRequest, pk: int) -> HttpResponse:
    current = _stocktake(pk)
    report = stocktakes.report_for(current.report or stocktakes.build_report(current), request.user)
    return render(
        request, "repository/staff/stocktake.html", {"stocktake": current, "report": report}
    )


@stocktake_required
@require_http_methods(["GET", "POST"])
def mobile_stocktake(request: HttpRequest, pk: int) -> HttpResponse:
    """Phone page: scan a shelf, then what stands on it; close when done."""
    current = _stocktake(pk)
    key = f"stocktake_position_{current.pk}"
    if request.method == "POST":
        if request.POST.get("close") == "1":
            try:
                stocktakes.close_stocktake(current, acting_user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            return redirect("repository:staff-stocktake", pk=current.pk)
        try:
            result = stocktakes.record_scan(
                current,
                request.POST.get("code", ""),
                acting_user=request.user,
                position=request.session.get(key),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if result["kind"] == "position":
                request.session[key] = result["position"]
                messages.info(request, _("Shelf %(code)s") % {"code": result["position"]})
            elif not result.get("matches", True):
                messages.warning(
                    request,
                    _("Recorded %(code)s, but it belongs on %(expected)s: wrong shelf?")
                    % {"code": result["code"], "expected": result["expected_position"]},
                )
            else:
                messages.success(request, _("Recorded %(code)s") % {"code": result["code"]})
        return redirect("repository:mobile-stocktake", pk=current.pk)
    scans = (
        StocktakeScan.objects.filter(stocktake=current)
        .select_related("position")
        .order_by("-scanned_at")[:20]
    )
    return render(
        request,
        "repository/mobile/stocktake.html",
        {"stocktake": current, "current_position": request.session.get(key), "scans": scans},
    )
