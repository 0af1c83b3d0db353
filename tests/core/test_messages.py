"""core.messages: stored messages rendered in the reader's language, never a failure."""

from __future__ import annotations

import pytest

from core import messages
from storage_env import messages as alarm_messages


def battery(**params):
    return messages.ref(alarm_messages.BATTERY, **params)


def test_one_code_in_each_language():
    params = {"sensor": "TH-01", "level": 9}
    assert messages.render(alarm_messages.BATTERY, params, "en") == "TH-01: battery 9 %"
    assert messages.render(alarm_messages.BATTERY, params, "zh-hans") == "TH-01：电量 9 %"
    assert messages.render(alarm_messages.BATTERY, params, "en-GB") == "TH-01: battery 9 %"


def test_parameters_that_are_words_are_codes_rendered_in_the_same_language():
    said = messages.ref(
        alarm_messages.SENSOR_SAID,
        sensor="TH-01",
        text=messages.ref(alarm_messages.RH_HIGH, value="70", limit="60"),
        notes=[messages.ref(alarm_messages.RAISED_AGAIN)],
    )
    en = messages.render_ref(said, "en")
    zh = messages.render_ref(said, "zh-hans")
    assert en.startswith("TH-01: humidity 70 %RH above 60 %RH (raised again")
    assert zh.startswith("TH-01: 湿度 70 %RH，高于 60 %RH")
    assert "humidity" not in zh


@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("no.such.code", {}),  # unknown code
        (alarm_messages.BATTERY, {"sensor": "TH-01"}),  # a parameter missing
        (alarm_messages.BATTERY, "not an object"),
        (alarm_messages.BATTERY, {"sensor": {"code": "no.such"}, "level": 1}),  # bad nested
        (alarm_messages.BATTERY, {"sensor": object(), "level": 1}),  # not JSON
        (None, None),
        (7, [1, 2]),
    ],
)
def test_a_bad_message_gives_the_fallback_never_an_error(code, params):
    assert messages.render(code, params, "en", fallback="stored text") == "stored text"
    assert messages.render(code, params, "en") == (code if isinstance(code, str) else "")


def test_nesting_is_bounded():
    deep: dict = battery(sensor="x", level=1)
    for _ in range(10):
        deep = battery(sensor=deep, level=1)
    assert messages.render_ref(deep, "en", fallback="f") == "f"


def test_a_language_the_site_does_not_speak_is_the_archive_language():
    params = {"sensor": "TH-01", "level": 9}
    assert messages.render(alarm_messages.BATTERY, params, "klingon") == "TH-01：电量 9 %"


def test_a_push_payload_is_rendered_per_reader_and_loses_its_render_key():
    payload = {
        "message": "TH-01：电量 9 %",
        "rule_label": "电量低",
        messages.RENDER_KEY: {
            "message": {
                "code": alarm_messages.BATTERY,
                "params": {"sensor": "TH-01", "level": 9},
                "fallback": "TH-01：电量 9 %",
            },
            "rule_label": alarm_messages.rule_label("low_battery"),
            "broken": {"code": "no.such"},
        },
    }
    en = messages.render_payload(payload, "en")
    assert en == {"message": "TH-01: battery 9 %", "rule_label": "Low battery", "broken": "no.such"}
    assert messages.render_payload({"n": 1}, "en") == {"n": 1}


@pytest.mark.parametrize(
    ("preferred", "cookie", "accept", "expected"),
    [
        ("en", "zh-hans", "zh-CN", "zh-hans"),  # the language menu in this browser wins
        ("en", "", "zh-CN", "en"),  # then the profile
        ("", "en", "zh-CN", "en"),
        ("", "", "en-US,en;q=0.9", "en"),
        ("", "", "fr-FR, zh-CN;q=0.5", "zh-hans"),
        ("", "", "", "zh-hans"),
        ("xx", "yy", "*", "zh-hans"),
    ],
)
def test_the_language_of_a_reader_without_a_request(preferred, cookie, accept, expected):
    assert messages.language_of(preferred, cookie=cookie, accept_language=accept) == expected
