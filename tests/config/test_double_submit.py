"""Every state-changing page and API action, posted twice and out of order: never a 5xx.

A double click posts the same action twice; a stale page posts an action the state has moved
past. Each is a domain refusal (``core.errors``): on a page a message and a redirect back, in the
API a 4xx with its message. Before the one error contract, a second "retrieve" on a request page
answered 500 (``IllegalTransition`` was not a ``BorrowingError``).
"""

# ruff: noqa: F811 - the borrowing fixtures are imported, and fixtures are named as parameters
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from borrowing.models import Loan
from devices.models import Sensor
from repository import boxes
from repository.models import StoreRoom
from storage_env import services as env_services
from storage_env.choices import AlarmRule
from tests.borrowing.conftest import (  # noqa: F401 - fixtures used by name
    fonds,
    make_request,
    records,
    shelf,
    staff_see_fonds,
    today,
)

pytestmark = pytest.mark.django_db


def post(client, url, data=None, *, api=False):
    if api:
        response = client.post(url, data or {}, content_type="application/json")
    else:
        response = client.post(url, data or {})
    assert response.status_code < 500, (url, data, response.status_code)
    return response


def post_twice(client, url, data=None, *, api=False):
    """The same action twice (a double click): both answers are below 500."""
    return post(client, url, data, api=api), post(client, url, data, api=api)


def refused_back(response, target: str) -> None:
    """A refused page action: a redirect to ``target`` with the refusal as a message."""
    assert response.status_code == 302 and response["Location"] == target
    assert [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


# --- borrowing: request and loan actions ------------------------------------------------------


@pytest.fixture
def requests_(researcher, records, make_request):
    """Three submitted requests: one to walk forward, one to act on out of order, one to
    cancel."""
    return [
        make_request(researcher, [records["open"]]),
        make_request(researcher, [records["open2"]]),
        make_request(researcher, [records["volume"]]),
    ]


def test_request_page_actions_twice(client_for, admin_user, staff_see_fonds, requests_, today):
    client = client_for(admin_user)
    req = requests_[0]
    base = f"/staff/borrowing/requests/{req.pk}/"
    line_ids = [str(pk) for pk in req.lines.values_list("pk", flat=True)]
    due = str(today + dt.timedelta(days=7))

    post_twice(client, base + "decide/", {"approve": line_ids, "reason": ""})
    first, second = post_twice(client, base + "retrieve/")
    assert first.status_code == 302 and first["Location"] == base
    refused_back(second, base)  # was a 500: IllegalTransition is now a Conflict
    post_twice(client, base + "checkout/", {"due_date": due})
    loan = Loan.objects.get(request=req)
    loan_base = f"/staff/borrowing/loans/{loan.pk}/"
    post_twice(client, loan_base + "renew/", {"due_date": str(today + dt.timedelta(days=14))})
    first, second = post_twice(client, loan_base + "return/", {"counted": 3})
    refused_back(second, base)  # the loan's request page, also without a Referer
    post(client, loan_base + "renew/", {})
    post_twice(client, base + "close/")
    post_twice(client, base + "cancel/")
    post(client, base + "retrieve/")
    post(client, base + "decide/", {"approve": line_ids})


def test_request_page_actions_out_of_order(client_for, admin_user, staff_see_fonds, requests_):
    client = client_for(admin_user)
    base = f"/staff/borrowing/requests/{requests_[1].pk}/"
    for action in ("retrieve", "checkout", "close", "decide", "cancel", "retrieve", "close"):
        response = post(client, base + action + "/", {"due_date": "2000-01-01"})
        assert response.status_code in (302, 404), (action, response.status_code)


def test_refusal_goes_back_to_a_same_site_referer(
    client_for, admin_user, staff_see_fonds, requests_
):
    client = client_for(admin_user)
    base = f"/staff/borrowing/requests/{requests_[1].pk}/"
    page = "http://testserver/staff/borrowing/?state=submitted"
    response = client.post(base + "retrieve/", HTTP_REFERER=page)
    refused_back(response, page)
    elsewhere = client.post(base + "retrieve/", HTTP_REFERER="https://evil.example/")
    refused_back(elsewhere, base)


def test_my_request_cancel_twice(client_for, researcher, requests_):
    client = client_for(researcher)
    url = f"/requests/{requests_[2].pk}/"
    first, second = post_twice(client, url)
    assert first.status_code == 302
    refused_back(second, url)  # the GET of the same path


def test_api_request_and_loan_actions_twice(
    client_for, admin_user, staff_see_fonds, requests_, today
):
    client = client_for(admin_user)
    req = requests_[0]
    base = f"/api/v1/borrowing/requests/{req.pk}/"
    line_ids = list(req.lines.values_list("pk", flat=True))
    due = str(today + dt.timedelta(days=7))
    first, second = post_twice(client, base + "decide/", {"approve": line_ids}, api=True)
    assert first.status_code == 200 and second.status_code == 409
    first, second = post_twice(client, base + "retrieve_records/", api=True)
    assert first.status_code == 200 and second.status_code == 409
    assert second.json()["code"] == "illegal_transition" and second.json()["detail"]
    post_twice(client, base + "check_out/", {"due_date": due}, api=True)
    loan = Loan.objects.get(request=req)
    loan_base = f"/api/v1/borrowing/loans/{loan.pk}/"
    post_twice(client, loan_base + "renew/", {}, api=True)
    first, second = post_twice(client, loan_base + "return/", {"counted": 3}, api=True)
    assert first.status_code == 200 and second.status_code == 409
    post(client, loan_base + "renew/", {}, api=True)
    post_twice(client, base + "close/", api=True)
    post_twice(client, base + "cancel/", api=True)
    out_of_order = f"/api/v1/borrowing/requests/{requests_[1].pk}/"
    for action in ("retrieve_records", "check_out", "close", "retrieve_records"):
        response = post(client, out_of_order + action + "/", {"due_date": due}, api=True)
        assert 400 <= response.status_code < 500, action


def test_checkin_scans_twice(client_for, admin_user, staff_see_fonds, requests_, records, today):
    client = client_for(admin_user)
    req = requests_[0]
    base = f"/api/v1/borrowing/requests/{req.pk}/"
    post(
        client,
        base + "decide/",
        {"approve": list(req.lines.values_list("pk", flat=True))},
        api=True,
    )
    post(client, base + "retrieve_records/", api=True)
    post(client, base + "check_out/", {"due_date": str(today + dt.timedelta(days=3))}, api=True)
    code = records["open"].reference_code
    scan = {"scan_id": str(uuid.uuid4()), "kind": "return", "code": code}
    first, second = post_twice(client, "/api/v1/borrowing/checkin/scans/", scan, api=True)
    assert first.status_code == 200 and second.json()["replayed"] is True
    again = {**scan, "scan_id": str(uuid.uuid4())}
    assert post(client, "/api/v1/borrowing/checkin/scans/", again, api=True).status_code == 409
    shelve = {"scan_id": str(uuid.uuid4()), "kind": "shelve", "code": code, "position": "X-1"}
    post_twice(client, "/api/v1/borrowing/checkin/scans/", shelve, api=True)
    lookup = client.get("/api/v1/borrowing/checkin/lookup/", {"code": code})
    assert lookup.status_code == 409


# --- storage_env: alarm actions -------------------------------------------------------------


@pytest.fixture
def alarm(db):
    room = StoreRoom.objects.create(code="K09", name="九号库房")
    sensor = Sensor.objects.create(
        sensor_id="TH-09", room=room, interval_seconds=60, last_seen=timezone.now()
    )
    alarm, _ = env_services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH,
        "sensor:TH-09",
        message="TH-09: humidity above 60 %RH (66)",
        room_id=room.pk,
        sensor_id=sensor.pk,
        value=66,
    )
    return alarm


@pytest.mark.parametrize("order", [("acknowledge", "clear", "close"), ("close", "acknowledge")])
def test_alarm_page_actions_twice_and_out_of_order(client_for, keeper, alarm, order):
    client = client_for(keeper)
    for action in order:
        for response in post_twice(client, f"/staff/climate/alarms/{alarm.pk}/{action}/"):
            assert response.status_code == 302


@pytest.mark.parametrize("order", [("acknowledge", "clear", "close"), ("close", "acknowledge")])
def test_alarm_api_actions_twice_and_out_of_order(client_for, keeper, alarm, order):
    client = client_for(keeper)
    for action in order:
        url = f"/api/v1/climate/alarms/{alarm.pk}/{action}/"
        first, second = post_twice(client, url, {"note": ""}, api=True)
        if second.status_code != 200:
            assert second.status_code == 409 and second.json()["detail"]


# --- repository: boxes, records, opening review, stocktakes ---------------------------------


@pytest.fixture
def box(admin_user, fonds, shelf):
    return boxes.create_box(acting_user=admin_user, code="J012-H-0001", fonds=fonds)


def test_box_page_actions_twice(client_for, admin_user, records, shelf, box):
    client = client_for(admin_user)
    url = f"/staff/locations/boxes/{box.pk}/"
    code = records["open"].reference_code
    post_twice(client, url, {"action": "edit", "code": box.code, "capacity": 30, "notes": ""})
    post_twice(client, url, {"action": "add", "codes": code, "reason": "装盒"})
    post_twice(client, url, {"action": "move", "to_position": shelf[0].code, "reason": "上架"})
    post_twice(client, url, {"action": "remove", "codes": [code], "reason": "出盒"})
    post_twice(client, url, {"action": "delete", "reason": "撤销"})
    post(client, url, {"action": "add", "codes": code, "reason": "x"})


def test_box_api_actions_twice(client_for, admin_user, records, shelf, box):
    client = client_for(admin_user)
    base = f"/api/v1/boxes/{box.pk}/"
    code = records["open"].reference_code
    post_twice(client, base + "add/", {"codes": [code], "reason": "装盒"}, api=True)
    post_twice(client, base + "move/", {"to_position": shelf[1].code, "reason": "上架"}, api=True)
    post_twice(client, base + "remove/", {"codes": [code], "reason": "出盒"}, api=True)


def test_record_page_actions_twice(client_for, admin_user, records, shelf, staff_see_fonds):
    client = client_for(admin_user)
    record = records["open2"]
    base = f"/staff/catalogue/item/{record.pk}/"
    post_twice(client, base + "move/", {"to_position": shelf[2].code, "reason": "调整"})
    post_twice(
        client, base + "renumber/", {"new_code": "J012-WS·2019-Y-BGS-0099", "reason": "错号"}
    )
    post_twice(
        client,
        f"/staff/review/item/{record.pk}/",
        {"decision": "open", "reason": "到期开放", "withheld_pages": ""},
    )
    post_twice(client, base + "delete/")
    post(client, base + "move/", {"to_position": shelf[0].code, "reason": "x"})


def test_record_api_actions_twice(client_for, admin_user, records, shelf, staff_see_fonds):
    client = client_for(admin_user)
    record = records["open2"]
    base = f"/api/v1/items/{record.pk}/"
    post_twice(client, base + "move/", {"to_position": shelf[2].code, "reason": "调整"}, api=True)
    post_twice(
        client,
        base + "renumber/",
        {"new_code": "J012-WS·2019-Y-BGS-0098", "reason": "错号"},
        api=True,
    )
    post_twice(client, base + "decide/", {"decision": "open", "reason": "到期开放"}, api=True)
    first = client.delete(base)
    second = client.delete(base)
    assert first.status_code < 500 and second.status_code < 500


def test_stocktake_actions_twice(client_for, admin_user, records, shelf):
    client = client_for(admin_user)
    room = shelf[0].room
    post_twice(client, "/staff/stocktakes/", {"room": room.pk})
    stocktake = room.stocktakes.order_by("-pk").first()
    url = f"/m/stocktake/{stocktake.pk}/"
    post_twice(client, url, {"position": shelf[0].code, "code": records["open2"].reference_code})
    post_twice(client, url, {"close": "1"})
    post(client, url, {"code": records["open"].reference_code})
    api = f"/api/v1/stocktakes/{stocktake.pk}/"
    post_twice(client, api + "scan/", {"code": records["open"].reference_code}, api=True)
    post_twice(client, api + "close/", api=True)
    first, second = post_twice(client, "/api/v1/stocktakes/", {"room": room.code}, api=True)
    assert first.status_code == 201 and second.status_code == 400
