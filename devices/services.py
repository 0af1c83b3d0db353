"""Sensor registry changes: audited, atomic."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from core.errors import Invalid
from devices.models import DiscoveredSensor, Sensor, SensorSource
from devices.mqtt import topics
from devices.mqtt.sources import MappingError, SourceSpec, compile_source
from repository.models import StoreRoom


@transaction.atomic
def register_discovered_sensor(
    discovered: DiscoveredSensor,
    *,
    acting_user: User,
    room: StoreRoom,
    kind: str,
    interval_seconds: int = 60,
) -> Sensor:
    """An administrator assigns a discovered sensor id to a room; it is accepted from now on."""
    locked = DiscoveredSensor.objects.select_for_update().filter(pk=discovered.pk).first()
    if locked is None:  # registered (or removed) by someone else meanwhile
        raise ValidationError(_("This sensor is no longer waiting to be registered."))
    discovered = locked
    sensor = Sensor(
        sensor_id=discovered.sensor_id, room=room, kind=kind, interval_seconds=interval_seconds
    )
    sensor.full_clean()
    sensor.save()
    discovered.delete()
    record_event(
        "devices.sensor.registered",
        acting_user=acting_user,
        obj=sensor,
        after={"sensor_id": sensor.sensor_id, "room": room.code, "kind": kind},
    )
    return sensor


CALIBRATION_FIELDS = ("temperature_offset", "humidity_offset")


@transaction.atomic
def update_sensor_calibration(
    sensor: Sensor,
    *,
    acting_user: User,
    temperature_offset: float | None = None,
    humidity_offset: float | None = None,
) -> Sensor:
    """Change a sensor's calibration offsets (checked against the model's ranges); the
    ingest worker applies them from its next batch (the registry version moves on save)."""
    sensor = Sensor.objects.select_for_update().get(pk=sensor.pk)
    before = {field: getattr(sensor, field) for field in CALIBRATION_FIELDS}
    if temperature_offset is not None:
        sensor.temperature_offset = temperature_offset
    if humidity_offset is not None:
        sensor.humidity_offset = humidity_offset
    after = {field: getattr(sensor, field) for field in CALIBRATION_FIELDS}
    if after == before:
        return sensor
    sensor.full_clean()
    sensor.save(update_fields=list(CALIBRATION_FIELDS))
    record_event(
        "devices.sensor.calibrated", acting_user=acting_user, obj=sensor, before=before, after=after
    )
    return sensor


@transaction.atomic
def set_sensor_enabled(sensor: Sensor, enabled: bool, *, acting_user: User) -> Sensor:
    """Enable or disable a sensor; messages of a disabled one go to the dead letters."""
    sensor = Sensor.objects.select_for_update().get(pk=sensor.pk)
    if sensor.enabled == enabled:
        return sensor
    sensor.enabled = enabled
    sensor.save(update_fields=["enabled"])
    record_event(
        "devices.sensor.enabled" if enabled else "devices.sensor.disabled",
        acting_user=acting_user,
        obj=sensor,
        before={"enabled": not enabled},
        after={"enabled": enabled},
    )
    return sensor


SOURCE_FIELDS = (
    "name",
    "enabled",
    "profile",
    "topic_filters",
    "sensor_id_from",
    "sensor_id_level",
    "sensor_id_path",
    "sensor_id_prefix",
    "mapping",
)


def others_qs(exclude_pk: int | None) -> QuerySet[SensorSource]:
    sources = SensorSource.objects.all()
    return sources if exclude_pk is None else sources.exclude(pk=exclude_pk)


def check_sensor_source(fields: dict[str, Any], *, exclude_pk: int | None = None) -> SourceSpec:
    """The compiled source for ``fields``, or ``Invalid`` naming every problem: a mapping that
    could never work (a bad path, an unknown unit or time zone, a sensor id on a fixed level),
    a topic filter that is malformed or that another source or Lantai's own contract already
    claims (one topic, one reading of it)."""
    name = str(fields.get("name") or "").strip()
    problems: dict[str, list[str]] = {}
    if not name or len(name) > 64:
        problems["name"] = [_("A name of 1 to 64 characters.")]
    elif others_qs(exclude_pk).filter(name=name).exists():
        problems["name"] = [_("Another source has this name.")]
    filters = [
        line.strip() for line in str(fields.get("topic_filters") or "").splitlines() if line.strip()
    ]
    spec: SourceSpec | None = None
    try:
        spec = compile_source(
            pk=exclude_pk,
            name=name,
            enabled=bool(fields.get("enabled")),
            profile=str(fields.get("profile") or ""),
            topic_filters=filters,
            sensor_id_from=str(fields.get("sensor_id_from") or "topic"),
            sensor_id_level=fields.get("sensor_id_level"),
            sensor_id_path=str(fields.get("sensor_id_path") or ""),
            sensor_id_prefix=str(fields.get("sensor_id_prefix") or ""),
            mapping=fields.get("mapping") or {},
        )
    except MappingError as exc:
        for key, messages in exc.problems.items():
            problems.setdefault(key, []).extend(messages)
    native = topics.native_filters()
    others = others_qs(exclude_pk).only("name", "topic_filters")
    for topic_filter in filters:
        if topics.filter_problem(topic_filter):
            continue
        for own in native:
            if topics.filters_overlap(topic_filter, own):
                problems.setdefault("topic_filters", []).append(
                    _("%(filter)s overlaps Lantai's own topics (%(own)s).")
                    % {"filter": topic_filter, "own": own}
                )
        for other in others:
            for theirs in other.filter_list():
                if topics.filters_overlap(topic_filter, theirs):
                    problems.setdefault("topic_filters", []).append(
                        _("%(filter)s overlaps %(theirs)s of the source %(source)s.")
                        % {"filter": topic_filter, "theirs": theirs, "source": other.name}
                    )
    if problems or spec is None:
        raise Invalid(fields=problems)
    return spec


def _source_state(source: SensorSource) -> dict[str, Any]:
    return {name: getattr(source, name) for name in SOURCE_FIELDS}


@transaction.atomic
def save_sensor_source(
    source: SensorSource | None, fields: dict[str, Any], *, acting_user: User | None
) -> SensorSource:
    """Create (``source`` None) or change a sensor source. Refused (``Invalid``) when it could
    never work; audited; the running ingest worker picks it up within a second (the sources'
    registry version moves on save)."""
    before: dict[str, Any] | None = None
    if source is not None:
        source = SensorSource.objects.select_for_update().get(pk=source.pk)
        state = _source_state(source)
        before = state
        merged = {**state, **fields}
    else:
        merged = {name: fields.get(name) for name in SOURCE_FIELDS}
    check_sensor_source(merged, exclude_pk=source.pk if source else None)
    target = source or SensorSource()
    target.name = str(merged["name"]).strip()
    target.enabled = bool(merged.get("enabled"))
    target.profile = str(merged["profile"])
    target.topic_filters = "\n".join(
        line.strip() for line in str(merged["topic_filters"]).splitlines() if line.strip()
    )
    target.sensor_id_from = str(merged.get("sensor_id_from") or "topic")
    target.sensor_id_level = merged.get("sensor_id_level")
    target.sensor_id_path = str(merged.get("sensor_id_path") or "")
    target.sensor_id_prefix = str(merged.get("sensor_id_prefix") or "")
    target.mapping = merged.get("mapping") or {}
    after = _source_state(target)
    if before is not None and after == before:
        return target
    target.save()
    record_event(
        "devices.source.created" if before is None else "devices.source.updated",
        acting_user=acting_user,
        obj=target,
        before=before,
        after=after,
    )
    return target


@transaction.atomic
def delete_sensor_source(source: SensorSource, *, acting_user: User | None) -> None:
    """Remove a source: the worker unsubscribes from its filters; readings stay."""
    source = SensorSource.objects.select_for_update().get(pk=source.pk)
    before = _source_state(source)
    record_event("devices.source.deleted", acting_user=acting_user, obj=source, before=before)
    source.delete()
