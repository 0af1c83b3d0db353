"""Staff pages of the description work (issue 14): the import template, printed forms, the
next-code preview of a fonds' pattern and the volume type-ahead. Thin adapters: records come
through the record door (``visible_to``), PDFs from ``repository.printing``.

Kept apart from ``repository/views.py`` on purpose (that module is being split into a package).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.choices import Role
from accounts.permissions import has_role, requires, staff_required
from core.input import ID_MAX, parse_int
from repository import codes, imports, printing, schemes
from repository.access import can_change_fonds, sees_fonds
from repository.forms import CategoryForm, CodePatternForm, FondsDescriptionForm, RecordForm
from repository.models import Box, Category, Fonds, Item, Volume
from repository.roles import can_catalogue


def _int(value, field: str) -> int:
    return parse_int(value, min_value=1, max_value=ID_MAX, field=field)


archivist_required = requires(can_catalogue)
PRINT_MAX = 5000  # records in one printed form (a category of a large fonds: print by year)


@archivist_required
@require_GET
def import_template(request: HttpRequest) -> HttpResponse:
    kind = "volume" if request.GET.get("kind") == "volume" else "item"
    response = HttpResponse(
        imports.template_xlsx(kind),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="lantai-import-{kind}.xlsx"'
    return response


def _selection(request: HttpRequest, model):
    """Records named by ``codes`` (one per line) or by ``category`` (+ optional ``year``),
    through the record door, in code order."""
    qs = model.objects.visible_to(request.user).select_related("fonds", "category")
    codes_text = request.GET.get("codes", "")
    if codes_text.strip():
        wanted = [c.strip() for c in codes_text.replace(",", "\n").splitlines() if c.strip()]
        qs = qs.filter(reference_code__in=wanted[:PRINT_MAX])
    else:
        category = _int(request.GET.get("category"), "category")
        qs = qs.filter(category_id=category)
        year = request.GET.get("year")
        if year:
            qs = qs.filter(filing_year=_int(year, "year"))
    return list(qs.order_by("reference_code")[:PRINT_MAX])


def _pdf(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


@staff_required
@require_GET
def print_form(request: HttpRequest, form: str) -> HttpResponse:
    """``/staff/print/<form>.pdf?codes=…`` or ``?category=<id>&year=``."""
    heading = request.GET.get("heading", "")[:200]
    if form == "stamps":
        return _pdf(printing.stamp_labels(_selection(request, Item)), form)
    if form == "item_list":
        return _pdf(printing.item_list(_selection(request, Item), heading=heading), form)
    if form == "volume_list":
        return _pdf(printing.volume_list(_selection(request, Volume), heading=heading), form)
    if form == "volume_spine":
        width = _int(request.GET.get("width") or 30, "width")
        if width not in printing.SPINE_WIDTHS_MM:
            raise Http404
        return _pdf(printing.volume_spine(_selection(request, Volume), width_mm=width), form)
    if form == "full_index":
        volumes = _selection(request, Volume)

        def items_of(volume):
            return (
                Item.objects.visible_to(request.user)
                .filter(volume=volume)
                .order_by("sequence", "reference_code")
            )

        return _pdf(printing.full_index(volumes, items_of, heading=heading), form)
    raise Http404


def _volume(request: HttpRequest, pk: int) -> Volume:
    return get_object_or_404(Volume.objects.visible_to(request.user).select_related("fonds"), pk=pk)


@staff_required
@require_GET
def print_volume(request: HttpRequest, pk: int, form: str) -> HttpResponse:
    """卷内目录, 卷内备考表 and 案卷封面 of one volume."""
    volume = _volume(request, pk)
    items = Item.objects.visible_to(request.user).filter(volume=volume)
    items = items.order_by("sequence", "reference_code")
    if form == "contents":
        return _pdf(printing.volume_contents(volume, items), form)
    if form == "note":
        return _pdf(printing.volume_note(volume), form)
    if form == "cover":
        return _pdf(printing.volume_cover(volume, item_count=items.count()), form)
    raise Http404


@staff_required
@require_GET
def print_box(request: HttpRequest, pk: int, form: str) -> HttpResponse:
    """盒脊 and 备考表 of one box (staff who see its fonds)."""
    box = get_object_or_404(Box.objects.select_related("fonds"), pk=pk)
    if not sees_fonds(request.user, box.fonds_id):
        raise Http404
    if form == "spine":
        return _pdf(printing.box_spine([box]), form)
    if form == "note":
        return _pdf(printing.box_note(box), form)
    raise Http404


@archivist_required
@require_GET
def code_preview(request: HttpRequest) -> JsonResponse:
    """The next codes a pattern would give (before it is saved): ``?fonds=&category=&kind=
    &pattern=&year=&retention=&unit=``. Answers ``{"codes": [...]} `` or ``{"errors": [...]}``."""
    fonds = get_object_or_404(Fonds, pk=_int(request.GET.get("fonds"), "fonds"))
    if not sees_fonds(request.user, fonds.pk):
        raise Http404
    category = get_object_or_404(
        Category, pk=_int(request.GET.get("category"), "category"), fonds=fonds
    )
    kind = "volume" if request.GET.get("kind") == "volume" else "item"
    template = request.GET.get("pattern") or codes.template_for(fonds, kind)
    try:
        codes.validate_pattern({kind: template})
        values = codes.expected_values(
            fonds,
            category,
            year=request.GET.get("year") or "2019",
            retention=request.GET.get("retention") or "Y",
            unit=request.GET.get("unit") or "BGS",
            project=request.GET.get("project") or "01",
            catalogue=request.GET.get("catalogue") or "01",
        )
        prefix, _last = codes.build_prefix(template, values)
        taken = list(
            Item.objects.filter(reference_code__startswith=prefix).values_list(
                "reference_code", flat=True
            )
        ) + list(
            Volume.objects.filter(reference_code__startswith=prefix).values_list(
                "reference_code", flat=True
            )
        )
        preview = []
        for _n in range(3):
            code = codes.next_code(template, values, taken_codes_with_prefix=lambda p: taken)
            preview.append(code)
            taken.append(code)
    except Exception as exc:  # ValidationError from the pattern or the values
        messages = getattr(exc, "messages", [str(exc)])
        return JsonResponse({"errors": messages}, status=400)
    return JsonResponse({"codes": preview, "template": template})


@staff_required
@require_GET
def volume_lookup(request: HttpRequest) -> JsonResponse:
    """Type-ahead for 案卷: volumes whose code starts with ``q`` (optionally in ``category``),
    through the record door; at most 20."""
    q = request.GET.get("q", "").strip()[:64]
    if len(q) < 2:
        return JsonResponse({"results": []})
    qs = Volume.objects.visible_to(request.user).filter(reference_code__startswith=q)
    if request.GET.get("category"):
        qs = qs.filter(category_id=_int(request.GET["category"], "category"))
    results = [
        {"id": pk, "code": code, "title": title}
        for pk, code, title in qs.order_by("reference_code").values_list(
            "pk", "reference_code", "title"
        )[:20]
    ]
    return JsonResponse({"results": results, "hint": _("Type the volume's reference code.")})


# --- fonds, categories and code patterns -----------------------------------------------------


def _changeable_fonds(user):
    if user.is_superuser or has_role(user, Role.ADMINISTRATOR):
        return Fonds.objects.all()
    return Fonds.objects.filter(
        pk__in=[f.pk for f in Fonds.objects.all() if can_change_fonds(user, f)]
    )


@archivist_required
@require_GET
def fonds_list(request: HttpRequest) -> HttpResponse:
    fonds = _changeable_fonds(request.user).order_by("code")
    return render(request, "repository/staff/fonds_list.html", {"fonds_list": fonds})


def _apply_service(form, call) -> bool:
    """Run ``call``; show a refusal on the form. True when it went through."""
    try:
        call()
    except ValidationError as exc:
        RecordForm.add_service_errors(form, exc)
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
    else:
        return True
    return False


@archivist_required
@require_http_methods(["GET", "POST"])
def fonds_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A fonds' description, its 档号 patterns (with a preview of the next codes) and its
    categories; every change through ``repository.schemes`` (audited)."""
    fonds = get_object_or_404(_changeable_fonds(request.user), pk=pk)
    action = request.POST.get("action") if request.method == "POST" else None
    description = FondsDescriptionForm(
        request.POST if action == "description" else None,
        initial={f: getattr(fonds, f) for f in schemes.FONDS_FIELDS},
    )
    pattern = CodePatternForm(
        request.POST if action == "pattern" else None, initial=fonds.code_pattern or {}
    )
    category = CategoryForm(request.POST if action == "category" else None, fonds=fonds)
    done = False
    if action == "description" and description.is_valid():
        done = _apply_service(
            description,
            lambda: schemes.update_fonds(fonds, description.cleaned_data, acting_user=request.user),
        )
    elif action == "pattern" and pattern.is_valid():
        done = _apply_service(
            pattern,
            lambda: schemes.set_code_pattern(fonds, pattern.cleaned_data, acting_user=request.user),
        )
    elif action == "category" and category.is_valid():
        data = category.cleaned_data
        done = _apply_service(
            category,
            lambda: schemes.create_category(
                fonds,
                acting_user=request.user,
                code=data["code"],
                name=data["name"],
                parent=data["parent"],
            ),
        )
    if done:
        messages.success(request, _("Saved."))
        return redirect("repository:staff-fonds-edit", pk=fonds.pk)
    categories = [
        (c, codes.category_path(c))
        for c in Category.objects.filter(fonds=fonds).select_related("parent")
    ]
    previews = []
    for kind, label in (("volume", _("volume")), ("item", _("item"))):
        template = codes.template_for(fonds, kind)
        previews.append((label, template, codes.example_code(template, {"fonds": fonds.code})))
    context = {
        "fonds": fonds,
        "description_form": description,
        "pattern_form": pattern,
        "category_form": category,
        "categories": sorted(categories, key=lambda pair: pair[1]),
        "previews": previews,
        "default_pattern": codes.DEFAULT_PATTERN,
    }
    return render(request, "repository/staff/fonds_edit.html", context)
