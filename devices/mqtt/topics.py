"""The one place MQTT topics are built and parsed (SPEC: ``{prefix}/sensors/{id}/{kind}``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TELEMETRY = "telemetry"
ALARM = "alarm"
STATUS = "status"
KINDS = (TELEMETRY, ALARM, STATUS)
QOS = 1

# ASCII letters, digits and ``_.-``, at most 64 (DeadLetter.sensor_id): no control character,
# surrogate, wildcard or separator can reach the registry through a topic.
SENSOR_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# A share name may not hold "/", "+" or "#" (MQTT 5 §4.8.2); kept to a plain word here.
SHARE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Topic:
    sensor_id: str
    kind: str


def prefix() -> str:
    return settings.MQTT_TOPIC_PREFIX.strip("/")


def topic_for(sensor_id: str, kind: str, *, topic_prefix: str | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{topic_prefix or prefix()}/sensors/{sensor_id}/{kind}"


def shared_group() -> str:
    return settings.MQTT_SHARED_GROUP


def subscriptions(*, topic_prefix: str | None = None, group: str = "") -> list[tuple[str, int]]:
    """What the ingest worker subscribes to, each with QoS 1; with a ``group``, as MQTT 5 shared
    subscriptions ``$share/<group>/<filter>`` (the broker hands each message to one member).
    Messages still arrive on their own topics, which ``parse_topic`` reads as usual."""
    if group and not SHARE_NAME_RE.fullmatch(group):
        raise ImproperlyConfigured(
            f"MQTT_SHARED_GROUP {group!r}: use letters, digits, '_', '.' or '-' (at most 64)"
        )
    share = f"$share/{group}/" if group else ""
    return [(f"{share}{topic_prefix or prefix()}/sensors/+/{kind}", QOS) for kind in KINDS]


def parse_topic(topic: str, *, topic_prefix: str | None = None) -> Topic | None:
    """``Topic`` for a well-formed sensor topic under our prefix, else ``None``."""
    base = (topic_prefix or prefix()) + "/sensors/"
    if not topic.startswith(base):
        return None
    parts = topic[len(base) :].split("/")
    if len(parts) != 2:
        return None
    sensor_id, kind = parts
    if kind not in KINDS or not SENSOR_ID_RE.fullmatch(sensor_id):  # not match(): "$" allows "\n"
        return None
    return Topic(sensor_id=sensor_id, kind=kind)
