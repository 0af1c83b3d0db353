"""The audit log page reads in words: actions and fields translated, before/after as a table,
filters by object, person, action group and date, a CSV export; still administrators only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from accounts.audit import record_event
from accounts.audit_words import action_label, changes

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(admin_user, keeper):
    record_event(
        "borrowing.loan.returned",
        acting_user=keeper,
        obj=keeper,
        before={"state": "checked_out", "due_date": "2026-01-02"},
        after={"state": "returned"},
    )
    record_event("storage_env.alarm.acknowledged", acting_user=admin_user, obj=admin_user)


def test_actions_and_fields_in_chinese():
    with translation.override("zh-hans"):
        assert action_label("borrowing.loan.returned") == "借出记录 · 已归还"
        assert action_label("zz.unknown.thing") == "zz.unknown.thing"  # never hidden
        rows = changes({"state": "checked_out"}, {"state": "returned", "kind": "item"})
        assert rows[0] == ("状态", "已借出", "已归还") and rows[1][2] == "件"


def test_page_in_words_with_a_table(client_for, admin_user, entries):
    client = client_for(admin_user)
    html = client.get("/accounts/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "借出记录 · 已归还" in html and "audit-changes" in html
    assert "{&#x27;state&#x27;" not in html and "{'state'" not in html  # no Python dict text


def test_filters(client_for, admin_user, keeper, entries):
    client = client_for(admin_user)

    def actions(**query):
        html = client.get("/accounts/audit/", query).content.decode()
        return {
            a for a in ("borrowing.loan.returned", "storage_env.alarm.acknowledged") if a in html
        }

    assert actions(group="borrowing") == {"borrowing.loan.returned"}
    assert actions(actor=str(keeper)) == {"borrowing.loan.returned"}
    assert actions(object=str(admin_user)) == {"storage_env.alarm.acknowledged"}
    today = timezone.localdate()
    assert len(actions(since=today.isoformat(), until=today.isoformat())) == 2
    assert actions(since=(today + dt.timedelta(days=1)).isoformat()) == set()
    assert len(actions(since="not a date")) == 2  # ignored, not an error


def test_export_and_doors(client_for, admin_user, keeper, entries):
    response = client_for(admin_user).get(
        "/accounts/audit/", {"format": "csv", "group": "borrowing"}
    )
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "borrowing.loan.returned" in text and "storage_env" not in text
    assert client_for(keeper).get("/accounts/audit/", {"format": "csv"}).status_code == 404
