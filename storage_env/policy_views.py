"""Staff adapters for set points and the daily compliance table (JGJ 25-2010 §5.2).

Wired by storage_env/urls.py: ``urlpatterns += policy_views.urlpatterns`` (names
``storage_env:room-set-points`` and ``storage_env:room-compliance-csv``).
"""

from __future__ import annotations

import csv
import io
import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import requires
from core.output import spreadsheet_cell
from storage_env.access import access_room
from storage_env.compliance import DayCompliance, Measure, daily_compliance, month_days
from storage_env.policies import update_climate_policy
from storage_env.roles import can_watch_climate

climate_required = requires(can_watch_climate)

SET_POINT_FIELDS = ("temp_set", "rh_set")


@require_POST
@climate_required
def room_set_points(request: HttpRequest, pk: int) -> HttpResponse:
    """POST ``temp_set`` and ``rh_set`` (empty = the middle of the band); back to the room
    page with the outcome as a message (the reason when refused)."""
    room = access_room(request.user, pk)
    changes = {key: request.POST.get(key, "") for key in SET_POINT_FIELDS if key in request.POST}
    try:
        update_climate_policy(room, acting_user=request.user, changes=changes)
    except ValidationError as error:
        for reasons in error.message_dict.values():
            for reason in reasons:
                messages.error(request, reason)
    else:
        messages.success(request, _("Set points saved."))
    return redirect("storage_env:room", pk=room.pk)


# --- CSV ------------------------------------------------------------------------------------


def csv_safe(value) -> str:
    """A cell spreadsheet programs will not run as a formula (core.output's OWASP rule)."""
    return "" if value is None else spreadsheet_cell(str(value))


def _num(value) -> str:
    return "" if value is None else f"{value:g}"


def _measure_cells(m: Measure) -> list[str]:
    return [
        _num(m.minimum),
        _num(m.maximum),
        _num(m.mean),
        _num(m.range),
        _num(m.set_point),
        _num(m.max_deviation),
        (_("yes") if m.deviation_ok else _("no")) if m.has_data else "",
        str(m.minutes_out_of_band) if m.has_data else "",
    ]


def compliance_header() -> list[str]:
    columns = [_("Room"), _("Date"), _("Status")]
    for what, unit in ((_("Temperature"), "°C"), (_("Humidity"), "%RH")):
        columns += [
            f"{what} {_('lowest')} ({unit})",
            f"{what} {_('highest')} ({unit})",
            f"{what} {_('time-weighted mean')} ({unit})",
            f"{what} {_('range')} ({unit})",
            f"{what} {_('set point')} ({unit})",
            f"{what} {_('largest deviation from the set point')} ({unit})",
            f"{what} {_('within ±fluctuation')}",
            f"{what} {_('minutes out of band')}",
        ]
    columns += [_("Data completeness (%)"), _("Alarms raised"), _("Reasons")]
    return columns


def compliance_rows(room, days: list[DayCompliance]) -> list[list[str]]:
    rows = []
    for day in days:
        rows.append(
            [
                room.code,
                day.day.isoformat(),
                day.status_label,
                *_measure_cells(day.temperature),
                *_measure_cells(day.humidity),
                _num(day.completeness),
                str(day.alarms),
                "; ".join(day.reasons),
            ]
        )
    return rows


def compliance_csv(room, days: list[DayCompliance]) -> str:
    """The daily compliance table as CSV text with a BOM (Excel opens UTF-8 with it)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(c) for c in compliance_header()])
    for row in compliance_rows(room, days):
        writer.writerow([csv_safe(c) for c in row])
    return buffer.getvalue()


@require_GET
@climate_required
def room_compliance_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The daily compliance table of one month (``?month=YYYY-MM``, default this month)."""
    room = access_room(request.user, pk)
    month = request.GET.get("month") or timezone.localdate().strftime("%Y-%m")
    try:
        first, last = month_days(month)
    except ValueError:
        return HttpResponse(
            _("Month must look like 2026-11."), status=400, content_type="text/plain"
        )
    days = daily_compliance(room, first, last)
    response = HttpResponse(compliance_csv(room, days), content_type="text/csv; charset=utf-8")
    safe_code = re.sub(r"[^A-Za-z0-9_.-]", "_", room.code)
    response["Content-Disposition"] = (
        f'attachment; filename="compliance-{safe_code}-{first:%Y-%m}.csv"'
    )
    return response


urlpatterns = [
    path(
        "staff/climate/rooms/<int:pk>/set-points/",
        room_set_points,
        name="room-set-points",
    ),
    path(
        "staff/climate/rooms/<int:pk>/compliance.csv",
        room_compliance_csv,
        name="room-compliance-csv",
    ),
]
