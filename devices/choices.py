"""Enumerations of the devices app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SensorKind(models.TextChoices):
    CLIMATE = "climate", _("Temperature/humidity")  # 温湿度
    SURFACE = "surface", _("Surface temperature")  # 表面温度 (condensation risk)
    LEAK = "leak", _("Water leak")  # 漏水
    SMOKE = "smoke", _("Smoke")  # 烟感
    DOOR = "door", _("Door contact")  # 门磁


class SensorStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("Offline")


class DeadLetterReason(models.TextChoices):
    BAD_TOPIC = "bad_topic", _("Unknown topic")
    TOO_LARGE = "too_large", _("Payload too large")
    BAD_ENCODING = "bad_encoding", _("Not UTF-8")
    BAD_JSON = "bad_json", _("Not valid JSON")
    BAD_SHAPE = "bad_shape", _("Not an object or array of objects")
    MISSING_FIELD = "missing_field", _("Missing field")
    BAD_NUMBER = "bad_number", _("Not a finite number")
    OUT_OF_RANGE = "out_of_range", _("Outside the physical range")
    BAD_TIMESTAMP = "bad_timestamp", _("Unreadable timestamp")
    FUTURE_TIMESTAMP = "future_timestamp", _("Timestamp in the future")
    OLD_TIMESTAMP = "old_timestamp", _("Timestamp too old")
    ID_MISMATCH = "id_mismatch", _("Sensor id in payload does not match the topic")
    UNKNOWN_SENSOR = "unknown_sensor", _("Unknown sensor")
    DISABLED_SENSOR = "disabled_sensor", _("Sensor disabled")
    BAD_STATUS = "bad_status", _("Unknown status value")
    BAD_ALARM = "bad_alarm", _("Invalid device alarm")
    BAD_TEXT = "bad_text", _("Bad text")  # NUL, lone surrogate, control character, too long
    DB_REFUSED = "db_refused", _("Refused by the database")


class SourceProfile(models.TextChoices):
    """Ready-made mappings (devices.mqtt.sources.PROFILES)."""

    ZIGBEE2MQTT = "zigbee2mqtt", _("Zigbee2MQTT")
    TASMOTA = "tasmota", _("Tasmota")
    SHELLY_GEN1 = "shelly_gen1", _("Shelly gen 1 (one value per topic)")
    SHELLY_GEN2 = "shelly_gen2", _("Shelly gen 2/3 (RPC notifications)")
    HOME_ASSISTANT = "home_assistant", _("Home Assistant MQTT state topics")
    LANTAI = "lantai", _("Lantai's own contract (another prefix)")
    GENERIC = "generic", _("Generic JSON (DTU gateways and others)")


class SensorIdFrom(models.TextChoices):
    TOPIC = "topic", _("A topic level")
    PAYLOAD = "payload", _("A path in the payload")
