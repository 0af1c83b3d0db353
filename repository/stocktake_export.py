"""The stocktake report as CSV: one line per record in each list (missing, misplaced,
unexpected, on loan), and one line per position for what the reader may not see (counted,
never named: ``stocktake.report_for``). A view of its own so the report page can stay short
on a phone (its lists fold; the whole report is here)."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.permissions import requires
from core.output import spreadsheet_cell
from repository import stocktake as stocktakes
from repository.models import Stocktake
from repository.roles import can_take_stock


@requires(can_take_stock)  # as the report page
def stocktake_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    current = get_object_or_404(Stocktake.objects.select_related("room", "unit"), pk=pk)
    report = stocktakes.report_for(current.report or stocktakes.build_report(current), request.user)
    names = {
        "missing": _("Missing"),
        "misplaced": _("Misplaced"),
        "unexpected": _("Unexpected"),
        "on_loan": _("On loan"),
    }
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="stocktake-{current.pk}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 with a byte-order mark
    out = csv.writer(response)
    out.writerow([_("List"), _("Code"), _("Title"), _("Expected at"), _("Found at"), _("Count")])
    for key in stocktakes.REPORT_LISTS:
        for row in report.get(key, []):
            cells = [names[key], row.get("code", ""), row.get("title", "")]
            cells += [row.get("expected") or "", row.get("found") or "", 1]
            out.writerow(spreadsheet_cell(str(c)) for c in cells)
        for row in report.get("withheld", {}).get(key, []):
            cells = [names[key], "", _("(not shown to you)"), "", row["position"], row["count"]]
            out.writerow(spreadsheet_cell(str(c)) for c in cells)
    return response
