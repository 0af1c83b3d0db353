"""Alarm lifecycle and live pushes. Alarms are stored before they are pushed (on commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import record_event
from accounts.choices import Role
from accounts.models import User
from accounts.services import notify_user, push_to_group
from core.errors import Conflict
from core.messages import RENDER_KEY, render
from storage_env import messages as storage_messages
from storage_env import notify
from storage_env.choices import (
    OPEN_STATES,
    AlarmEventKind,
    AlarmRule,
    AlarmState,
    Severity,
    device_code_label,
)
from storage_env.models import Alarm, AlarmEvent

DASHBOARD_GROUP = "storage_env.dashboard"
SUPERVISOR_ROLE = Role.ADMINISTRATOR


class AlarmTransitionError(Conflict, ValueError):
    """The alarm is not in a state that allows this change."""


def alarm_payload(alarm: Alarm) -> dict[str, Any]:
    """An alarm as pushed: its texts in the archive's language, and under ``RENDER_KEY`` as
    messages, which each receiving connection renders in its reader's language."""
    render = {"rule_label": storage_messages.rule_label(alarm.rule)}
    if alarm.message_code:
        render["message"] = alarm.message_ref()
    if alarm.code:
        render["code_label"] = storage_messages.device_code_label(alarm.code)
    return {
        RENDER_KEY: render,
        "id": alarm.pk,
        "rule": alarm.rule,
        "rule_label": str(alarm.get_rule_display()),
        "subject": alarm.subject,
        "room_id": alarm.room_id,
        "sensor_id": alarm.sensor.sensor_id if alarm.sensor else None,
        "severity": alarm.severity,
        "state": alarm.state,
        "message": alarm.text_in(settings.LANGUAGE_CODE),
        "value": alarm.value,
        "code": alarm.code,
        "code_label": str(device_code_label(alarm.code)) if alarm.code else "",
        "raised_at": alarm.raised_at.isoformat(),
        "acknowledged_at": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else None,
        "acknowledged_by": (
            alarm.acknowledged_by.get_username() if alarm.acknowledged_by else None
        ),
        "acknowledge_note": alarm.acknowledge_note,
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
        "escalation_level": alarm.escalation_level,
    }


def room_keepers(room_id: int | None) -> list[int]:
    """Ids of the active users named as keepers of the room (``StoreRoom.keepers``)."""
    if room_id is None:
        return []
    return list(
        User.objects.filter(rooms_kept=room_id, is_active=True).values_list("pk", flat=True)
    )


def push_alarm(alarm: Alarm, event_type: str, *, tell_keepers: bool = False) -> None:
    """To every open dashboard; with ``tell_keepers`` also to the room's own keepers
    personally (their notices reach any page they have open, not only the dashboard)."""
    notify.enqueue_alarm_notifications(alarm, event_type)  # e-mail/robots, same transaction
    payload = alarm_payload(alarm)
    push_to_group(DASHBOARD_GROUP, event_type, payload)
    if tell_keepers:
        for user_id in room_keepers(alarm.room_id):
            notify_user(user_id, event_type, payload)


def _event(
    alarm: Alarm, kind: str, at: dt.datetime, actor: User | None = None, note: str = ""
) -> None:
    AlarmEvent.objects.create(alarm=alarm, kind=kind, at=at, actor=actor, note=note[:500])


@transaction.atomic
def raise_alarm(
    rule: str,
    subject: str,
    *,
    message: str | Mapping[str, Any],
    room_id: int | None = None,
    sensor_id: int | None = None,
    severity: str = Severity.MAJOR,
    value: float | None = None,
    code: str = "",
    now: dt.datetime | None = None,
) -> tuple[Alarm, bool]:
    """Open an alarm for (rule, subject) unless one is open already; (alarm, created).

    ``message`` is a message (``core.messages.ref``: stored as its code and parameters, shown
    in each reader's language) or text shown as given (a device's own words)."""
    now = now or timezone.now()
    if isinstance(message, Mapping):
        message_code = str(message.get("code") or "")
        message_params = dict(message.get("params") or {})
        text = render(message_code, message_params, settings.LANGUAGE_CODE)
    else:
        message_code, message_params, text = "", {}, message
    existing = Alarm.objects.filter(rule=rule, subject=subject, state__in=OPEN_STATES).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            alarm = Alarm.objects.create(
                rule=rule,
                subject=subject,
                room_id=room_id,
                sensor_id=sensor_id,
                severity=severity,
                message=text[:300],
                message_code=message_code[:80],
                message_params=message_params,
                value=value,
                code=code[:40],
                raised_at=now,
            )
    except IntegrityError:  # raised concurrently by another worker
        return Alarm.objects.get(rule=rule, subject=subject, state__in=OPEN_STATES), False
    _event(alarm, AlarmEventKind.RAISED, now, note=text)
    push_alarm(alarm, "alarm.raised", tell_keepers=True)
    return alarm, True


@transaction.atomic
def clear_alarm(
    rule: str,
    subject: str,
    *,
    now: dt.datetime | None = None,
    note: str = "",
) -> Alarm | None:
    """The condition is gone: the open alarm for (rule, subject) becomes cleared."""
    alarm = (
        Alarm.objects.select_for_update()
        .filter(rule=rule, subject=subject, state__in=OPEN_STATES)
        .first()
    )
    if alarm is None:
        return None
    return _clear(alarm, now=now or timezone.now(), actor=None, note=note)


def _clear(alarm: Alarm, *, now: dt.datetime, actor: User | None, note: str) -> Alarm:
    alarm.state = AlarmState.CLEARED
    alarm.cleared_at = now
    alarm.save(update_fields=["state", "cleared_at"])
    _event(alarm, AlarmEventKind.CLEARED, now, actor, note)
    push_alarm(alarm, "alarm.cleared")
    return alarm


def _locked(alarm: Alarm) -> Alarm:
    return Alarm.objects.select_for_update(of=("self",)).select_related("sensor").get(pk=alarm.pk)


@transaction.atomic
def acknowledge_alarm(alarm: Alarm, *, acting_user: User, note: str = "") -> Alarm:
    """A keeper has seen it (who, note); escalation stops."""
    alarm = _locked(alarm)
    if alarm.state != AlarmState.RAISED:
        raise AlarmTransitionError(f"cannot acknowledge an alarm that is {alarm.state}")
    now = timezone.now()
    alarm.state = AlarmState.ACKNOWLEDGED
    alarm.acknowledged_at = now
    alarm.acknowledged_by = acting_user
    alarm.acknowledge_note = note[:500]
    alarm.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "acknowledge_note"])
    _event(alarm, AlarmEventKind.ACKNOWLEDGED, now, acting_user, note)
    record_event(
        "storage_env.alarm.acknowledged", acting_user=acting_user, obj=alarm, note=note[:500]
    )
    push_alarm(alarm, "alarm.acknowledged")
    return alarm


@transaction.atomic
def clear_alarm_manually(alarm: Alarm, *, acting_user: User, note: str = "") -> Alarm:
    """A keeper clears an open alarm by hand (the engine raises it again if it recurs)."""
    alarm = _locked(alarm)
    if alarm.state not in OPEN_STATES:
        raise AlarmTransitionError(f"cannot clear an alarm that is {alarm.state}")
    alarm = _clear(alarm, now=timezone.now(), actor=acting_user, note=note)
    record_event("storage_env.alarm.cleared", acting_user=acting_user, obj=alarm, note=note[:500])
    return alarm


@transaction.atomic
def close_alarm(alarm: Alarm, *, acting_user: User, note: str = "") -> Alarm:
    """Closing ends the record of a cleared alarm."""
    alarm = _locked(alarm)
    if alarm.state != AlarmState.CLEARED:
        raise AlarmTransitionError(f"cannot close an alarm that is {alarm.state}")
    now = timezone.now()
    alarm.state = AlarmState.CLOSED
    alarm.closed_at = now
    alarm.closed_by = acting_user
    alarm.save(update_fields=["state", "closed_at", "closed_by"])
    _event(alarm, AlarmEventKind.CLOSED, now, acting_user, note)
    record_event("storage_env.alarm.closed", acting_user=acting_user, obj=alarm, note=note[:500])
    push_alarm(alarm, "alarm.closed")
    return alarm


def supervisors() -> list[User]:
    return list(User.objects.filter(groups__name=SUPERVISOR_ROLE, is_active=True).distinct())


@transaction.atomic
def escalate_alarm(alarm: Alarm, *, now: dt.datetime | None = None) -> Alarm:
    """Unacknowledged too long: tell the supervisors (administrators) directly."""
    now = now or timezone.now()
    # Claimed by a conditional update: of several engines that saw the same level due, one
    # escalates and the others find the level moved (or the alarm acknowledged).
    claimed = Alarm.objects.filter(
        pk=alarm.pk, state=AlarmState.RAISED, escalation_level=alarm.escalation_level
    ).update(escalation_level=F("escalation_level") + 1, escalated_at=now)
    alarm = _locked(alarm)
    if not claimed:
        return alarm
    _event(alarm, AlarmEventKind.ESCALATED, now, note=f"level {alarm.escalation_level}")
    payload = alarm_payload(alarm)
    for user in supervisors():
        notify_user(user, "alarm.escalated", payload)
    push_alarm(alarm, "alarm.escalated")
    return alarm


@transaction.atomic
def remind_alarm(alarm: Alarm, *, now: dt.datetime | None = None) -> Alarm:
    """Remind the keepers of an acknowledged alarm; claimed by a conditional update on the
    previous reminder time, so several engines send each reminder once."""
    now = now or timezone.now()
    previous = alarm.last_reminded_at
    unchanged: dict[str, Any] = (
        {"last_reminded_at__isnull": True} if previous is None else {"last_reminded_at": previous}
    )
    if not Alarm.objects.filter(pk=alarm.pk, **unchanged).update(last_reminded_at=now):
        return alarm
    alarm.last_reminded_at = now
    _event(alarm, AlarmEventKind.REMINDED, now)
    push_alarm(alarm, "alarm.reminded", tell_keepers=True)
    return alarm


def device_alarm_subject(sensor_id: str, code: str) -> str:
    return f"sensor:{sensor_id}:{code}"


def apply_device_alarm(
    *,
    sensor,
    code: str,
    severity: str,
    active: bool,
    message: str,
    now: dt.datetime,
) -> None:
    """A device alarm (water leak, smoke, door…) passed through as an alarm of rule DEVICE."""
    subject = device_alarm_subject(sensor.sensor_id, code)
    if active:
        raise_alarm(
            AlarmRule.DEVICE,
            subject,
            message=message or code,
            room_id=sensor.room_id,
            sensor_id=sensor.pk,
            severity=severity,
            code=code,
            now=now,
        )
    else:
        clear_alarm(AlarmRule.DEVICE, subject, now=now, note=message)


def push_readings(latest: list[dict[str, Any]]) -> None:
    """Latest values of the rooms touched by one ingest flush (after commit)."""
    if latest:
        push_to_group(DASHBOARD_GROUP, "reading.updated", {"readings": latest})
