"""The one place MQTT topics are built and parsed (SPEC: ``{prefix}/sensors/{id}/{kind}``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

TELEMETRY = "telemetry"
ALARM = "alarm"
STATUS = "status"
KINDS = (TELEMETRY, ALARM, STATUS)
QOS = 1

SENSOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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


def subscriptions(*, topic_prefix: str | None = None) -> list[tuple[str, int]]:
    """What the ingest worker subscribes to, each with QoS 1."""
    return [(f"{topic_prefix or prefix()}/sensors/+/{kind}", QOS) for kind in KINDS]


def parse_topic(topic: str, *, topic_prefix: str | None = None) -> Topic | None:
    """``Topic`` for a well-formed sensor topic under our prefix, else ``None``."""
    base = (topic_prefix or prefix()) + "/sensors/"
    if not topic.startswith(base):
        return None
    parts = topic[len(base) :].split("/")
    if len(parts) != 2:
        return None
    sensor_id, kind = parts
    if kind not in KINDS or not SENSOR_ID_RE.match(sensor_id):
        return None
    return Topic(sensor_id=sensor_id, kind=kind)
