"""Staff pages of the store rooms: where-is, rooms, shelving units, boxes, moves, labels."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.permissions import staff_required
from core.input import ID_MAX, parse_int
from repository import access, boxes, labels, services
from repository.forms import (
    BoxAddForm,
    BoxDeleteForm,
    BoxEditForm,
    BoxForm,
    BoxRemoveForm,
    LabelForm,
    MoveForm,
    ShelvingUnitForm,
    WhereIsForm,
)
from repository.models import Box, Move, StoreRoom
from repository.views.common import form_errors


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
    rooms = services.rooms_occupancy(StoreRoom.objects.all())
    return render(request, "repository/staff/rooms.html", {"rooms": rooms})


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
            form_errors(form, exc)
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
            form_errors(form, exc)
        else:
            messages.success(request, _("Box %(code)s created.") % {"code": box.code})
            return redirect("repository:staff-box", pk=box.pk)
    qs = Box.objects.visible_to(request.user).select_related("fonds", "room", "position")
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
    boxes_seen = Box.objects.visible_to(request.user)
    box = get_object_or_404(boxes_seen.select_related("fonds", "room", "position__room"), pk=pk)
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
        form_errors(form, exc)
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
    """The newest moves the user may see (the moves door, as in the API)."""
    moves = Move.objects.visible_to(request.user).select_related(
        "volume", "item", "box", "from_position", "to_position", "moved_by"
    )
    return render(request, "repository/staff/moves.html", {"moves": list(moves[:100])})


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
