"""Administrator pages: the sensor registry, discovered sensors to assign, dead letters."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.choices import Role
from accounts.permissions import role_required
from devices import services
from devices.choices import DeadLetterReason
from devices.forms import AssignSensorForm
from devices.models import DeadLetter, DiscoveredSensor, IngestState, Sensor

admin_required = role_required(Role.ADMINISTRATOR)


@require_GET
@admin_required
def sensors(request: HttpRequest) -> HttpResponse:
    reason = request.GET.get("reason", "")
    dead = DeadLetter.objects.defer("payload").order_by("-received_at")
    if reason in DeadLetterReason.values:
        dead = dead.filter(reason=reason)
    return render(
        request,
        "devices/sensors.html",
        {
            "sensors": Sensor.objects.select_related("room").order_by("sensor_id")[:500],
            "discovered": DiscoveredSensor.objects.order_by("-last_seen")[:200],
            "dead_letters": dead[:100],
            "reasons": DeadLetterReason.choices,
            "reason": reason,
            "workers": IngestState.objects.order_by("-heartbeat_at")[:5],
            "form": AssignSensorForm(),
        },
    )


@require_POST
@admin_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        discovered = DiscoveredSensor.objects.get(pk=pk)
    except DiscoveredSensor.DoesNotExist:
        raise Http404 from None
    form = AssignSensorForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a room, a kind and an interval."))
        return redirect("devices:sensors")
    try:
        services.register_discovered_sensor(
            discovered,
            acting_user=request.user,
            room=form.cleaned_data["room"],
            kind=form.cleaned_data["kind"],
            interval_seconds=form.cleaned_data["interval_seconds"],
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("devices:sensors")
    messages.success(request, _("Sensor registered."))
    return redirect("devices:sensors")
