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


# --- Topic filters of sensor sources (devices.models.SensorSource) ---------------------------
# MQTT 3.1.1 §4.7 / MQTT 5 §4.7: levels split by "/", "+" matches one whole level, "#" the rest
# (last level only); a filter starting with a wildcard does not match topics starting with "$".
FILTER_MAX_LEVELS = 12
FILTER_LEVEL_RE = re.compile(r"[^\x00-\x1f\x7f+#$]{1,64}")


def split_filter(topic_filter: str) -> tuple[str, ...]:
    return tuple(topic_filter.split("/"))


def filter_problem(topic_filter: str) -> str:
    """Why ``topic_filter`` cannot be a source's subscription ("" when it can): well-formed
    wildcards (MQTT §4.7.1), no shared-subscription or "$" topics, a bounded depth."""
    if not topic_filter or len(topic_filter) > 200:
        return "a topic filter has 1 to 200 characters"
    levels = split_filter(topic_filter)
    if len(levels) > FILTER_MAX_LEVELS:
        return f"at most {FILTER_MAX_LEVELS} levels"
    if levels[0].startswith("$"):
        return "'$' topics (broker internals, shared subscriptions) cannot be a source"
    if levels[0] == "#":
        return "'#' alone would take every message on the broker"
    for index, level in enumerate(levels):
        if level in ("+", "#"):
            if level == "#" and index != len(levels) - 1:
                return "'#' may only be the last level"
            continue
        if not FILTER_LEVEL_RE.fullmatch(level):
            return f"level {index} ({level[:20]!r}): empty, or '+', '#' inside a level"
    return ""


def filter_matches(levels: tuple[str, ...], topic_levels: list[str] | tuple[str, ...]) -> bool:
    """Whether a topic (split into levels) matches a filter (split into levels)."""
    if topic_levels and topic_levels[0].startswith("$") and levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(levels) == len(topic_levels)


def filters_overlap(a: str, b: str) -> bool:
    """Whether one topic could match both filters (then two sources, or a source and Lantai's
    own contract, would both claim it)."""
    left, right = split_filter(a), split_filter(b)
    for index in range(max(len(left), len(right))):
        x = left[index] if index < len(left) else None
        y = right[index] if index < len(right) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:
            return False
        if x != "+" and y != "+" and x != y:
            return False
    return True


def native_filters(*, topic_prefix: str | None = None) -> list[str]:
    return [f"{topic_prefix or prefix()}/sensors/+/{kind}" for kind in KINDS]


def shared(topic_filter: str, group: str = "") -> str:
    return f"$share/{group}/{topic_filter}" if group else topic_filter
