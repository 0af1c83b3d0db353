"""Administrator pages: the sensor registry, discovered sensors to assign, dead letters."""

from __future__ import annotations

import contextlib
import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import requires
from core.errors import Invalid
from devices import services
from devices.choices import DeadLetterReason, SourceProfile
from devices.forms import AssignSensorForm, SensorSourceForm
from devices.models import (
    DeadLetter,
    DiscoveredSensor,
    IngestState,
    Sensor,
    SensorSource,
    SourceSample,
)
from devices.mqtt import sources as source_mapping
from devices.mqtt.payloads import DEFAULT_HORIZON as HORIZON
from devices.roles import can_manage_sensors

admin_required = requires(can_manage_sensors)


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


@require_GET
@admin_required
def sources(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "devices/sources.html",
        {
            "sources": SensorSource.objects.order_by("name"),
            "dead_letters": DeadLetter.objects.defer("payload")
            .exclude(source="")
            .order_by("-received_at")[:50],
        },
    )


def _outcome(spec: source_mapping.SourceSpec | None, sample: SourceSample) -> str:
    """What the mapping makes of one sample: readings, status, alarms, or why it is refused."""
    if spec is None:
        return ""
    result = spec.parse(sample.topic, bytes(sample.payload), now=timezone.now(), horizon=HORIZON)
    if result is None:
        return _("not on this source's topics")
    parts: list[str] = []
    if result.ignored:
        parts.append(_("ignored (nothing for the archive)"))
    for reading in result.readings:
        parts.append(
            _("sensor %(id)s: %(t)s °C, %(h)s %%RH, battery %(b)s, at %(ts)s%(received)s")
            % {
                "id": result.sensor_id,
                "t": "–" if reading.temperature is None else reading.temperature,
                "h": "–" if reading.humidity is None else reading.humidity,
                "b": "–" if reading.battery is None else reading.battery,
                "ts": timezone.localtime(reading.ts).strftime("%Y-%m-%d %H:%M:%S"),
                "received": _(" (receive time)") if reading.ts_received else "",
            }
        )
    if result.status:
        parts.append(
            _("sensor %(id)s is %(status)s") % {"id": result.sensor_id, "status": result.status}
        )
    for alarm in result.alarms:
        parts.append(
            _("alarm %(code)s %(state)s on %(id)s")
            % {
                "code": alarm.code,
                "state": _("active") if alarm.active else _("cleared"),
                "id": result.sensor_id,
            }
        )
    for error in result.errors:
        parts.append(
            _("refused: %(reason)s: %(detail)s") % {"reason": error.reason, "detail": error.detail}
        )
    return "; ".join(str(p) for p in parts) or _("nothing")


@admin_required
def source_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A source's settings, the last messages seen on its topics and what the mapping (the
    saved one, or the one typed in when "Try" is pressed) makes of them."""
    source = None
    if pk is not None:
        source = SensorSource.objects.filter(pk=pk).first()
        if source is None:
            raise Http404
    samples = list(source.samples.order_by("-received_at")[: SourceSample.KEEP]) if source else []
    spec: source_mapping.SourceSpec | None = None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = SensorSourceForm(request.POST)
        if form.is_valid():
            fields = dict(form.cleaned_data)
            if request.POST.get("action") == "save":
                try:
                    saved = services.save_sensor_source(source, fields, acting_user=request.user)
                except Invalid as exc:
                    errors = exc.fields
                else:
                    messages.success(
                        request, _("Source saved; the ingest worker applies it within seconds.")
                    )
                    return redirect("devices:source_edit", pk=saved.pk)
            else:
                try:
                    spec = services.check_sensor_source(fields, exclude_pk=pk)
                except Invalid as exc:
                    errors = exc.fields
    elif source is not None:
        form = SensorSourceForm(
            initial={name: getattr(source, name) for name in services.SOURCE_FIELDS}
        )
        with contextlib.suppress(Invalid):
            spec = services.check_sensor_source(
                {name: getattr(source, name) for name in services.SOURCE_FIELDS}, exclude_pk=pk
            )
    else:
        profile = request.GET.get("profile", "generic")
        defaults = source_mapping.PROFILES.get(profile, source_mapping.PROFILES["generic"])
        form = SensorSourceForm(
            initial={
                "profile": profile if profile in source_mapping.PROFILES else "generic",
                "topic_filters": "\n".join(defaults["topic_filters"]),
                "sensor_id_from": defaults["sensor_id_from"],
                "sensor_id_level": defaults["sensor_id_level"],
                "mapping": {},
            }
        )
    profile = form["profile"].value() or "generic"
    return render(
        request,
        "devices/source.html",
        {
            "source": source,
            "form": form,
            "errors": errors,
            "profiles": SourceProfile.choices,
            "profile_mapping": json.dumps(
                source_mapping.PROFILES.get(profile, source_mapping.PROFILES["generic"])["mapping"],
                indent=2,
                ensure_ascii=False,
            ),
            "samples": [
                (
                    sample,
                    bytes(sample.payload).decode("utf-8", "replace")[:500],
                    _outcome(spec, sample),
                )
                for sample in samples
            ],
        },
    )


@require_POST
@admin_required
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    source = SensorSource.objects.filter(pk=pk).first()
    if source is None:
        raise Http404
    services.delete_sensor_source(source, acting_user=request.user)
    messages.success(request, _("Source deleted."))
    return redirect("devices:sources")
