"""Contract tests of the pages and the API, with query-count guards."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from repository.choices import AccessStatus
from repository.models import Item, Position
from tests.repository.conftest import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def count_queries(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_staff_list_query_count_independent_of_page_size(ws, archivist_a, client_for):
    for n in range(1, 61):
        make_item(ws, n)
    client = client_for(archivist_a)
    url = reverse("repository:staff-catalogue")
    small, _ = count_queries(client, url, {"size": 5})
    large, response = count_queries(client, url, {"size": 50})
    assert small == large
    assert small <= 12
    with CaptureQueriesContext(connection) as ctx:
        client.get(url, {"size": 50, "after": "J012-WS·2019-Y-BGS-0010"})
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def test_api_list_query_count_and_keyset(ws, archivist_a, client_for):
    for n in range(1, 31):
        make_item(ws, n)
    client = client_for(archivist_a)
    small, _ = count_queries(client, "/api/v1/items/", {"size": 3})
    large, response = count_queries(client, "/api/v1/items/", {"size": 30})
    assert small == large
    first = client.get("/api/v1/items/", {"size": 10}).json()
    assert len(first["results"]) == 10 and "after=" in first["next"]
    second = client.get(first["next"]).json()
    assert second["results"][0]["reference_code"] > first["results"][-1]["reference_code"]
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/v1/items/", {"size": 30})
    listing = [q["sql"] for q in ctx.captured_queries if "core_cache" not in q["sql"]]  # throttle
    assert not any("COUNT(" in sql.upper() for sql in listing)


def test_staff_list_next_link(ws, archivist_a, client_for):
    for n in range(1, 8):
        make_item(ws, n)
    response = client_for(archivist_a).get(reverse("repository:staff-catalogue"), {"size": 5})
    assert "after=J012-WS%C2%B72019-Y-BGS-0005" in response.content.decode()


def test_create_item_through_page_and_errors_render(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    url = reverse("repository:staff-record-new", args=["item"])
    data = {
        "fonds": ws.fonds.pk,
        "category": ws.pk,
        "title": "关于印发2019年工作要点的通知",
        "creator": "某市档案局",
        "date": "2019-13-01",
        "retention": "Y",
        "classification": 0,
        "access_status": "unreviewed",
        "carrier": "paper",
        "org_unit": "BGS",
        "filing_year": "2019",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "没有 13 月" in response.content.decode()
    assert not Item.objects.exists()
    data["date"] = "2019-03-01"
    response = client.post(url, data)
    assert response.status_code == 302
    assert Item.objects.get().reference_code == "J012-WS·2019-Y-BGS-0001"


def test_edit_page_denied_without_change_permission(ws, keeper, client_for):
    item = make_item(ws, access_status=AccessStatus.OPEN)
    response = client_for(keeper).get(
        reverse("repository:staff-record-edit", args=["item", item.pk])
    )
    assert response.status_code == 404


def test_api_create_and_bad_input(ws, archivist_a, client_for):
    client = client_for(archivist_a)
    payload = {
        "fonds": ws.fonds.pk,
        "category": ws.pk,
        "title": "通知",
        "creator": "某市档案局",
        "date": "2019-02-30",
        "retention": "Y",
        "org_unit": "BGS",
        "filing_year": 2019,
    }
    response = client.post("/api/v1/items/", payload, content_type="application/json")
    assert response.status_code == 400
    assert "只有 28 天" in response.json()["errors"]["date"][0]
    payload["date"] = "2019-02-28"
    response = client.post("/api/v1/items/", payload, content_type="application/json")
    assert response.status_code == 201, response.json()
    item_id = response.json()["id"]
    response = client.patch(
        f"/api/v1/items/{item_id}/", {"title": ""}, content_type="application/json"
    )
    assert response.status_code == 400 and "title" in response.json()["errors"]


def test_api_move_and_where_is(ws, unit, archivist_a, client_for):
    item = make_item(ws)
    client = client_for(archivist_a)
    position = Position.objects.first()
    response = client.post(
        f"/api/v1/items/{item.pk}/move/",
        {"to_position": "NOPE", "reason": "入库"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "NOPE" in response.json()["errors"]["to_position"][0]
    response = client.post(
        f"/api/v1/items/{item.pk}/move/",
        {"to_position": position.code, "reason": "入库"},
        content_type="application/json",
    )
    assert response.status_code == 201
    found = client.get("/api/v1/where-is/", {"code": item.reference_code}).json()
    assert found["position"]["code"] == position.code
    assert client.get("/api/v1/where-is/", {"code": "nothing"}).status_code == 404


def test_api_decide_opening(ws, archivist_a, client_for):
    item = make_item(ws, year=1990)
    client = client_for(archivist_a)
    response = client.post(
        f"/api/v1/items/{item.pk}/decide/",
        {"decision": "controlled"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert {"reason", "next_review_on"} <= set(response.json()["errors"])
    review_on = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    response = client.post(
        f"/api/v1/items/{item.pk}/decide/",
        {"decision": "controlled", "reason": "个人隐私", "next_review_on": review_on},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["access_status"] == "controlled"
    response = client.post(
        f"/api/v1/items/{item.pk}/decide/", {"decision": "open"}, content_type="application/json"
    )
    assert response.json()["access_status"] == "open"
    assert client_for(None).get(f"/api/v1/items/{item.pk}/").status_code == 200


def test_review_queue_page(ws, archivist_a, client_for):
    make_item(ws, 1, year=1990)
    response = client_for(archivist_a).get(reverse("repository:staff-review"))
    assert "J012-WS·1990-Y-BGS-0001" in response.content.decode()


def test_pages_render_for_staff(ws, unit, room, archivist_a, client_for):
    item = make_item(ws)
    client = client_for(archivist_a)
    for name, args in [
        ("staff-hierarchy", []),
        ("staff-rooms", []),
        ("staff-moves", []),
        ("staff-record", ["item", item.pk]),
        ("staff-record-edit", ["item", item.pk]),
        ("staff-review-decide", ["item", item.pk]),
        ("public-fonds-list", []),
        ("public-fonds", [ws.fonds.code]),
    ]:
        assert client.get(reverse(f"repository:{name}", args=args)).status_code == 200, name


def test_staff_export_is_audited(ws, archivist_a, client_for):
    from accounts.models import AuditLog

    make_item(ws, 1, classification=1)
    response = client_for(archivist_a).get(reverse("repository:staff-export", args=["csv"]))
    assert "J012-WS·2019-Y-BGS-0001" in b"".join(response.streaming_content).decode("utf-8-sig")
    log = AuditLog.objects.get(action="repository.catalogue.exported")
    assert log.after["format"] == "csv" and log.actor == archivist_a
