"""Enumerations of the storage_env app."""

from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _


class AlarmRule(models.TextChoices):
    TEMPERATURE_HIGH = "temp_high", _("Temperature too high")
    TEMPERATURE_LOW = "temp_low", _("Temperature too low")
    HUMIDITY_HIGH = "rh_high", _("Humidity too high")
    HUMIDITY_LOW = "rh_low", _("Humidity too low")
    TEMPERATURE_SWING = "temp_swing", _("Temperature fluctuation over 24 h")
    HUMIDITY_SWING = "rh_swing", _("Humidity fluctuation over 24 h")
    MOULD_RISK = "mould", _("Mould risk")
    CONDENSATION = "condensation", _("Condensation risk")
    OFFLINE = "offline", _("Sensor offline")
    LOW_BATTERY = "low_battery", _("Low battery")
    DEVICE = "device", _("Device alarm")


class AlarmState(models.TextChoices):
    RAISED = "raised", _("Raised")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLEARED = "cleared", _("Cleared")
    CLOSED = "closed", _("Closed")


OPEN_STATES = (AlarmState.RAISED, AlarmState.ACKNOWLEDGED)


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")


class AggregateBucket(models.TextChoices):
    FIVE_MINUTES = "5m", _("5 minutes")
    HOUR = "1h", _("1 hour")


BUCKET_SECONDS = {AggregateBucket.FIVE_MINUTES: 300, AggregateBucket.HOUR: 3600}


class AlarmEventKind(models.TextChoices):
    RAISED = "raised", _("Raised")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLEARED = "cleared", _("Cleared")
    CLOSED = "closed", _("Closed")
    ESCALATED = "escalated", _("Escalated")
    REMINDED = "reminded", _("Reminder sent")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook (JSON)")
    WECOM = "wecom", _("WeCom group robot")
    DINGTALK = "dingtalk", _("DingTalk group robot")


class NotificationEvent(models.TextChoices):
    RAISED = "raised", _("Raised")
    ESCALATED = "escalated", _("Escalated")
    REMINDED = "reminded", _("Reminder")
    CLEARED = "cleared", _("Cleared")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


# Device alarm codes (MQTT ``lantai/sensors/{id}/alarm``) named for people: the one mapping
# the dashboard, the room page and the API use.
DEVICE_ALARM_CODES = {
    "smoke": pgettext_lazy("device alarm", "Smoke"),
    "fire": pgettext_lazy("device alarm", "Fire"),
    "water_leak": pgettext_lazy("device alarm", "Water leak"),
    "door_open": pgettext_lazy("device alarm", "Door open"),
    "tamper": pgettext_lazy("device alarm", "Tamper"),
    "intrusion": pgettext_lazy("device alarm", "Intrusion"),
    "glass_break": pgettext_lazy("device alarm", "Glass break"),
    "power_fail": pgettext_lazy("device alarm", "Power failure"),
    "low_battery": pgettext_lazy("device alarm", "Low battery"),
    "sensor_fault": pgettext_lazy("device alarm", "Sensor fault"),
    "hvac_fault": pgettext_lazy("device alarm", "Air conditioning fault"),
    "dehumidifier_fault": pgettext_lazy("device alarm", "Dehumidifier fault"),
}


def device_code_label(code: str) -> str:
    """The person's name of a device alarm code; unknown codes are shown as they came."""
    if not code:
        return ""
    label = DEVICE_ALARM_CODES.get(code)
    if label is None:
        return gettext("unknown code (%(code)s)") % {"code": code}
    return str(label)
