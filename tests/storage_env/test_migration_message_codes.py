"""Migrations 0006/0007: alarms stored as text before message codes stay readable; the texts
the engine wrote get their code and are then shown in each reader's language."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from storage_env.models import Alarm

BEFORE = [("storage_env", "0005_reading_ts_received")]
AFTER = [("storage_env", "0007_alarm_message_codes_from_text")]
OLD = {
    "low_battery": "TH-01：电量 9 %",
    "rh_high": "TH-01: 湿度 70 %RH，高于 60 %RH",
    "offline": "TH-02: no data since 2026-07-01 12:00",
    "temp_swing": "TH-01: 与设定点偏差……（旧文本）",  # not matched: shown as stored
    "device": "二号架漏水",  # a device's own words: as sent
    "condensation": "表面温度 9 °C 与露点 8.5 °C 相差不足 2 °C",
}


@pytest.mark.django_db(transaction=True)
def test_old_alarms_stay_readable_and_engine_texts_get_their_codes():
    executor = MigrationExecutor(connection)
    if not all(key in executor.loader.graph.nodes for key in BEFORE + AFTER):
        pytest.fail("migration names changed: update this test")
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "storage_env"]
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE + others).apps
        OldAlarm = old.get_model("storage_env", "Alarm")
        at = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
        ids = {
            rule: OldAlarm.objects.create(
                rule=rule, subject=f"s:{rule}", message=text, raised_at=at
            ).pk
            for rule, text in OLD.items()
        }
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    alarms = {rule: Alarm.objects.get(pk=pk) for rule, pk in ids.items()}
    assert alarms["low_battery"].text_in("en") == "TH-01: battery 9 %"
    assert alarms["rh_high"].text_in("en") == "TH-01: humidity 70 %RH above 60 %RH"
    assert alarms["rh_high"].text_in("zh-hans") == OLD["rh_high"]
    assert alarms["offline"].text_in("zh-hans") == "TH-02：自 2026-07-01 12:00 起无数据"
    assert alarms["condensation"].text_in("en") == (
        "surface 9 °C within 2 °C of the dew point 8.5 °C"
    )
    for rule in ("temp_swing", "device"):
        assert alarms[rule].message_code == ""
        assert alarms[rule].text_in("en") == OLD[rule]
    for alarm in alarms.values():
        assert alarm.message == OLD[alarm.rule]  # the stored text is never changed
