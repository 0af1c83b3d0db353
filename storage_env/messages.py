"""The message codes of store-room alarms (``core.messages``): what the engine stores instead
of words, rendered in each reader's language. Registered in ``StorageEnvConfig.ready()``.

An alarm's text is ``SENSOR_SAID`` around one climate code plus its notes, or one code of its
own (condensation, offline, battery); a device's own text is stored as sent, with no code.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core import messages
from storage_env.choices import DEVICE_ALARM_CODES, AlarmRule

P = "storage_env.alarm."
SENSOR_SAID = P + "sensor"  # "TH-01: <text><notes>" (no words of its own)
TEMP_HIGH = P + "temp_high"
TEMP_LOW = P + "temp_low"
RH_HIGH = P + "rh_high"
RH_LOW = P + "rh_low"
SWING = P + "swing"
MOULD = P + "mould"
MOULD_HIGH = P + "mould_high"
DAY_RANGE = P + "day_range"
RAISED_AGAIN = P + "raised_again"
CONDENSATION = P + "condensation"
OFFLINE_SINCE = P + "offline_since"
OFFLINE_NEVER = P + "offline_never"
BATTERY = P + "battery"
RULE = "storage_env.rule."
DEVICE_CODE = "storage_env.device_code."
DEVICE_CODE_UNKNOWN = "storage_env.device_code_unknown"

TEMPLATES: dict[str, Any] = {
    SENSOR_SAID: "%(sensor)s: %(text)s%(notes)s",
    TEMP_HIGH: _("temperature %(value)s °C above %(limit)s °C"),
    TEMP_LOW: _("temperature %(value)s °C below %(limit)s °C"),
    RH_HIGH: _("humidity %(value)s %%RH above %(limit)s %%RH"),
    RH_LOW: _("humidity %(value)s %%RH below %(limit)s %%RH"),
    SWING: _(
        "deviation from the set point %(set)s %(unit)s: %(deviation)s %(unit)s "
        "(now %(value)s %(unit)s) > ±%(allowed)s %(unit)s"
    ),
    MOULD: _("mould risk: humidity %(value)s %%RH above %(limit)s %%RH"),
    MOULD_HIGH: _("mould risk HIGH: humidity %(value)s %%RH (80–90 %%RH: mould within 1–5 days)"),
    DAY_RANGE: _("; today %(low)s–%(high)s %(unit)s"),
    RAISED_AGAIN: _(" (raised again: the condition went on after it was cleared by hand)"),
    CONDENSATION: _("surface %(surface)s °C within %(margin)s °C of the dew point %(dew)s °C"),
    OFFLINE_SINCE: _("%(sensor)s: no data since %(time)s"),
    OFFLINE_NEVER: _("%(sensor)s: no data yet"),
    BATTERY: _("%(sensor)s: battery %(level)s %%"),
    DEVICE_CODE_UNKNOWN: _("unknown code (%(code)s)"),
}


def register_all() -> None:
    for code, template in TEMPLATES.items():
        messages.register(code, template)
    messages.register_choices(RULE, AlarmRule)
    for code, label in DEVICE_ALARM_CODES.items():
        messages.register(DEVICE_CODE + code, label)


def rule_label(rule: str) -> dict[str, Any]:
    """An alarm rule's name, as a message."""
    return messages.ref(RULE + rule)


def device_code_label(code: str) -> dict[str, Any]:
    """A device alarm code's name, as a message (unknown codes named as they came)."""
    if code in DEVICE_ALARM_CODES:
        return messages.ref(DEVICE_CODE + code)
    return messages.ref(DEVICE_CODE_UNKNOWN, code=code)


def number(value: float) -> str:
    """A number as the messages show it (stored formatted: the same in every language)."""
    return f"{value:g}"
