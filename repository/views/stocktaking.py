"""Stocktakes (盘点): the list, one stocktake, and the phone page that scans."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core import errors
from repository import stocktake as stocktakes
from repository.forms import RecordForm, StocktakeForm
from repository.models import Stocktake, StocktakeScan
from repository.views.common import stocktake_required


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
        if request.POST.get("undo"):
            scan = get_object_or_404(
                StocktakeScan, pk=_scan_pk(request.POST["undo"]), stocktake=current
            )
            try:
                stocktakes.undo_scan(scan, request.user)
            except errors.DomainError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Scan of %(code)s undone.") % {"code": scan.code})
            return redirect("repository:mobile-stocktake", pk=current.pk)
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
    scans = stocktakes.recent_scans(current, request.user)
    return render(
        request,
        "repository/mobile/stocktake.html",
        {
            "stocktake": current,
            "current_position": request.session.get(key),
            "scans": scans,
            "undoable": stocktakes.undoable_scan_ids(current, scans, request.user),
        },
    )


def _scan_pk(value: str) -> int:
    return int(value) if value.isdigit() else 0
