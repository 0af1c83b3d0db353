"""Alarms stored before message codes: the texts the engine wrote (in Chinese or English) that
match one of its templates exactly get their code and parameters, so they too are shown in
each reader's language. Anything else (a device's own words, texts with notes, edited
templates) keeps no code and is shown as stored: every row stays readable either way.

The templates are frozen here as they were written before this migration (the zh-hans
translation and the English source), not read from the running code."""

import re

from django.db import migrations

NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
SENSOR_SAID = "storage_env.alarm.sensor"

# (rule, code, source texts in zh-hans and en, whether the engine put "<sensor>: " before it)
TEMPLATES = [
    ("temp_high", "storage_env.alarm.temp_high",
     ["温度 %(value)s °C，高于 %(limit)s °C", "temperature %(value)s °C above %(limit)s °C"], True),
    ("temp_low", "storage_env.alarm.temp_low",
     ["温度 %(value)s °C，低于 %(limit)s °C", "temperature %(value)s °C below %(limit)s °C"], True),
    ("rh_high", "storage_env.alarm.rh_high",
     ["湿度 %(value)s %RH，高于 %(limit)s %RH", "humidity %(value)s %RH above %(limit)s %RH"], True),
    ("rh_low", "storage_env.alarm.rh_low",
     ["湿度 %(value)s %RH，低于 %(limit)s %RH", "humidity %(value)s %RH below %(limit)s %RH"], True),
    ("mould", "storage_env.alarm.mould",
     ["霉变风险：湿度 %(value)s %RH，高于 %(limit)s %RH",
      "mould risk: humidity %(value)s %RH above %(limit)s %RH"], True),
    ("condensation", "storage_env.alarm.condensation",
     ["表面温度 %(surface)s °C 与露点 %(dew)s °C 相差不足 %(margin)s °C",
      "surface %(surface)s °C within %(margin)s °C of the dew point %(dew)s °C"], False),
    ("offline", "storage_env.alarm.offline_since",
     ["%(sensor)s：自 %(time)s 起无数据", "%(sensor)s: no data since %(time)s"], False),
    ("offline", "storage_env.alarm.offline_never",
     ["%(sensor)s：尚无数据", "%(sensor)s: no data yet"], False),
    ("low_battery", "storage_env.alarm.battery",
     ["%(sensor)s：电量 %(level)s %", "%(sensor)s: battery %(level)s %"], False),
]
GROUPS = {
    "value": NUMBER, "limit": NUMBER, "surface": NUMBER, "dew": NUMBER, "margin": NUMBER,
    "level": r"\d+", "time": r"\d{4}-\d\d-\d\d \d\d:\d\d", "sensor": r"[^:：]{1,64}",
}


def _pattern(text: str, prefixed: bool) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", text)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{GROUPS[part]})"
        for i, part in enumerate(parts)
    )
    if prefixed:
        regex = rf"(?P<sensor>{GROUPS['sensor']}): " + regex
    return re.compile(rf"\A{regex}\Z")


COMPILED = [
    (rule, code, [_pattern(text, prefixed) for text in texts], prefixed)
    for rule, code, texts, prefixed in TEMPLATES
]


def coded(rule: str, message: str):
    """(code, params) for a text the engine wrote, or None."""
    for template_rule, code, patterns, prefixed in COMPILED:
        if template_rule != rule:
            continue
        for pattern in patterns:
            found = pattern.match(message)
            if found is None:
                continue
            params = found.groupdict()
            if not prefixed:
                return code, params
            sensor = params.pop("sensor")
            inner = {"code": code, "params": params}
            return SENSOR_SAID, {"sensor": sensor, "text": inner, "notes": []}
    return None


def forwards(apps, schema_editor):
    Alarm = apps.get_model("storage_env", "Alarm")
    rules = sorted({rule for rule, *_rest in TEMPLATES})
    todo = Alarm.objects.filter(message_code="", rule__in=rules).only("pk", "rule", "message")
    for alarm in todo.iterator(chunk_size=1000):
        found = coded(alarm.rule, alarm.message)
        if found is not None:
            Alarm.objects.filter(pk=alarm.pk).update(message_code=found[0], message_params=found[1])


def backwards(apps, schema_editor):
    """The text column was never changed: forgetting the codes loses nothing."""
    apps.get_model("storage_env", "Alarm").objects.update(message_code="", message_params={})


class Migration(migrations.Migration):
    dependencies = [("storage_env", "0006_alarm_message_code")]

    operations = [migrations.RunPython(forwards, backwards)]
