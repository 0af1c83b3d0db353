"""Staff pages: the climate dashboard, a room page with charts, CSV export, alarm actions."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import requires
from core.output import spreadsheet_cell
from core.streaming import StreamingResponse
from storage_env import queries, services
from storage_env.access import access_alarm, access_room, records_in_room
from storage_env.choices import DEVICE_ALARM_CODES, OPEN_STATES
from storage_env.compliance import daily_compliance
from storage_env.models import Alarm, ClimatePolicy, Reading, effective_policy
from storage_env.reports import monthly_report_pdf
from storage_env.roles import can_watch_climate

climate_required = requires(can_watch_climate)
RECORDS_SHOWN = 50
COMPLIANCE_SPAN = dt.timedelta(days=29)  # today and the 29 days before


def ago(ts: dt.datetime | None, now: dt.datetime) -> str:
    """How long ago, in words ("3 分钟前"); the page's script keeps it current."""
    if ts is None:
        return ""
    minutes = max(int((now - ts).total_seconds() // 60), 0)
    if minutes < 1:
        return _("just now")
    if minutes < 60:
        return _("%(n)s min ago") % {"n": minutes}
    if minutes < 48 * 60:
        return _("%(n)s h ago") % {"n": minutes // 60}
    return _("%(n)s days ago") % {"n": minutes // (24 * 60)}


def _with_times(state: dict, now: dt.datetime) -> dict:
    updated = state["updated_at"]
    state["ago"] = ago(updated, now)
    state["updated_today"] = bool(updated) and (
        timezone.localdate(updated) == timezone.localdate(now)
    )
    return state


def _page_labels() -> dict[str, str]:
    """Texts the climate scripts put together themselves ("{n}" is filled in there)."""
    return {
        "just_now": _("just now"),
        "minutes_ago": _("%(n)s min ago") % {"n": "{n}"},
        "hours_ago": _("%(n)s h ago") % {"n": "{n}"},
        "days_ago": _("%(n)s days ago") % {"n": "{n}"},
        "unknown_code": _("unknown code (%(code)s)") % {"code": "{code}"},
    }


@require_GET
@climate_required
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rooms = [_with_times(state, now) for state in queries.room_states()]
    lines = queries.sparklines(rooms, now=now)
    for state in rooms:
        state["sparkline"] = json.dumps(lines[state["id"]])
    codes = {code: str(label) for code, label in DEVICE_ALARM_CODES.items()}
    return render(
        request,
        "storage_env/dashboard.html",
        {
            "rooms": rooms,
            "labels": _page_labels(),
            "device_codes": json.dumps(codes, ensure_ascii=False),
            "time_zone": settings.TIME_ZONE,
        },
    )


@require_GET
@climate_required
def room_detail(request: HttpRequest, pk: int) -> HttpResponse:
    room = access_room(request.user, pk)
    now = timezone.now()
    state = _with_times(queries.room_states([room])[0], now)
    volumes, items = records_in_room(request.user, room)
    today = timezone.localdate(now)
    return render(
        request,
        "storage_env/room.html",
        {
            "room": room,
            "state": state,
            "alarms": queries.room_alarms(room),
            "open_states": OPEN_STATES,
            "volumes": volumes.order_by("reference_code")[:RECORDS_SHOWN],
            "items": items.order_by("reference_code")[:RECORDS_SHOWN],
            "volume_count": volumes.count(),
            "item_count": items.count(),
            "ranges": list(queries.RANGES),
            "months": _recent_months(),
            "time_zone": settings.TIME_ZONE,
            "labels": _page_labels(),
            # Daily compliance with JGJ 25-2010 §5.2.3 over the last 30 days, newest first.
            "compliance_days": list(
                reversed(daily_compliance(room, today - COMPLIANCE_SPAN, today))
            ),
            "policy": effective_policy(room, ClimatePolicy.objects.filter(room=room).first()),
        },
    )


def _recent_months(count: int = 12) -> list[str]:
    today = timezone.localdate()
    months, year, month = [], today.year, today.month
    for _i in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@climate_required
def room_export(request: HttpRequest, pk: int) -> HttpResponse:
    """CSV of the room's raw readings over a range (streamed)."""
    room = access_room(request.user, pk)
    range_name = request.GET.get("range", "day")
    if range_name not in queries.RANGES:
        return HttpResponse(_("Unknown range."), status=400, content_type="text/plain")
    since = timezone.now() - queries.RANGES[range_name][0]
    rows = (
        Reading.objects.visible_to(request.user)
        .filter(room=room, ts__gte=since)
        .order_by("ts")
        .values_list("ts", "sensor__sensor_id", "temperature", "humidity", "dew_point", "battery")
    )
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"  # Excel opens UTF-8 with a BOM
        yield writer.writerow(
            ["time", "sensor", "temperature_c", "humidity_rh", "dew_point_c", "battery"]
        )
        for ts, sensor_id, temperature, humidity, dew, battery in rows.iterator(chunk_size=5000):
            yield writer.writerow(
                [
                    timezone.localtime(ts).isoformat(),
                    spreadsheet_cell(sensor_id),
                    temperature,
                    humidity,
                    dew,
                    battery,
                ]
            )

    response = StreamingResponse(stream(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    safe_code = re.sub(r"[^A-Za-z0-9_.-]", "_", room.code)
    response["Content-Disposition"] = (
        f'attachment; filename="climate-{safe_code}-{range_name}-{stamp}.csv"'
    )
    return response


ALARMS_EXPORTED = 5000


@require_GET
@climate_required
def room_alarms_export(request: HttpRequest, pk: int) -> HttpResponse:
    """CSV of the room's alarms, newest first, their texts in the reader's language."""
    room = access_room(request.user, pk)
    alarms = queries.alarms_with_texts(
        Alarm.objects.visible_to(request.user)
        .filter(room=room)
        .select_related("sensor")
        .order_by("-raised_at")[:ALARMS_EXPORTED]
    )
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"  # Excel opens UTF-8 with a BOM
        yield writer.writerow(
            [_("Raised at"), _("Alarm"), _("Message"), _("Severity"), _("State"), _("Sensor")]
        )
        for alarm in alarms:
            yield writer.writerow(
                [
                    timezone.localtime(alarm.raised_at).isoformat(),
                    spreadsheet_cell(alarm.title),
                    spreadsheet_cell(alarm.text),
                    alarm.get_severity_display(),
                    alarm.get_state_display(),
                    spreadsheet_cell(alarm.sensor.sensor_id if alarm.sensor else ""),
                ]
            )

    response = StreamingResponse(stream(), content_type="text/csv; charset=utf-8")
    safe_code = re.sub(r"[^A-Za-z0-9_.-]", "_", room.code)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="alarms-{safe_code}-{stamp}.csv"'
    return response


ACTIONS = {
    "acknowledge": (services.acknowledge_alarm, gettext_lazy("Alarm acknowledged.")),
    "clear": (services.clear_alarm_manually, gettext_lazy("Alarm cleared.")),
    "close": (services.close_alarm, gettext_lazy("Alarm closed.")),
}


@require_POST
@climate_required
def alarm_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    alarm = access_alarm(request.user, pk)
    if action not in ACTIONS:
        return HttpResponse(status=404)
    service, done = ACTIONS[action]
    note = request.POST.get("note", "")[:500]
    try:
        service(alarm, acting_user=request.user, note=note)
        messages.success(request, done)
    except services.AlarmTransitionError:
        messages.error(request, _("The alarm has changed meanwhile; nothing was done."))
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)  # e.g. the dashboard card the alarm was acknowledged from
    if alarm.room_id:
        return redirect("storage_env:room", pk=alarm.room_id)
    return redirect("storage_env:dashboard")


@require_GET
@climate_required
def room_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Monthly environment report (PDF) of the room; ``?month=YYYY-MM``."""

    room = access_room(request.user, pk)
    month = request.GET.get("month") or timezone.localdate().strftime("%Y-%m")
    try:
        pdf = monthly_report_pdf(room, month)
    except ValueError:
        return HttpResponse(
            _("Month must look like 2026-11."), status=400, content_type="text/plain"
        )
    response = HttpResponse(pdf, content_type="application/pdf")
    safe_code = re.sub(r"[^A-Za-z0-9_.-]", "_", room.code)
    response["Content-Disposition"] = f'inline; filename="climate-{safe_code}-{month}.pdf"'
    return response
