"""Labels (PDF with Code 128 + QR, Chinese) and stocktakes (scan, close, discrepancies)."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from repository import labels, services, stocktake
from repository.choices import AccessStatus
from repository.models import Position, Stocktake
from tests.pdf import pdf_has_cjk_font
from tests.repository.conftest import make_item, make_volume

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_pdf_sizes_and_cjk_font():
    entries = [
        labels.Label("J012-WS·2019-Y-BGS-0001", "关于开展档案安全检查的通知", "一号库房")
    ] * 30
    a4 = labels.labels_pdf(entries, size="a4")
    thermal = labels.labels_pdf(entries[:3], size="thermal")
    assert a4.startswith(b"%PDF") and thermal.startswith(b"%PDF")
    assert pdf_has_cjk_font(a4)
    assert a4.count(b"/Type /Page\n") + a4.count(b"/Type /Page ") >= 2 or b"/Count 2" in a4
    assert b"/Count 3" in thermal
    with pytest.raises(ValueError):
        labels.labels_pdf(entries, size="a3")


def test_barcode_payload_round_trip(ws, archivist_a):
    item = make_item(ws)
    payload = labels.barcode_payload(item.reference_code)
    assert payload.isascii()
    assert services.where_is(payload, user=archivist_a).obj == item


def test_labels_page_and_api(ws, unit, archivist_a, client_for):
    item = make_item(ws)
    client = client_for(archivist_a)
    response = client.post(
        reverse("repository:staff-labels"), {"codes": item.reference_code, "size": "thermal"}
    )
    assert response["Content-Type"] == "application/pdf"
    response = client.post(reverse("repository:staff-labels"), {"codes": "NOPE-1", "size": "a4"})
    assert response.status_code == 200 and "NOPE-1" in response.content.decode()
    response = client.post(
        "/api/v1/labels/", {"unit": unit.pk, "size": "a4"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_labels_do_not_leak_hidden_records(ws, keeper, client_for):
    hidden = make_item(ws)  # controlled: the keeper has no permission on the fonds
    response = client_for(keeper).post(
        "/api/v1/labels/", {"codes": [hidden.reference_code]}, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.fixture
def shelved(ws, unit, archivist_a):
    positions = list(Position.objects.filter(unit=unit).order_by("path"))
    items = [make_item(ws, n, access_status=AccessStatus.OPEN) for n in range(1, 5)]
    volume = make_volume(ws, 1)
    for record, position in zip([*items, volume], positions, strict=False):
        services.move_record(record, position, acting_user=archivist_a, reason="入库")
    return positions, items, volume


def test_stocktake_report(ws, room, unit, shelved, keeper, archivist_a):
    positions, items, volume = shelved
    stray = make_item(ws, 9)
    take = stocktake.open_stocktake(room, acting_user=keeper)
    with pytest.raises(ValidationError, match="already open"):
        stocktake.open_stocktake(room, acting_user=keeper)
    with pytest.raises(ValidationError, match="shelf code first"):
        stocktake.record_scan(take, items[0].reference_code, acting_user=keeper)
    assert stocktake.record_scan(take, positions[0].code, acting_user=keeper)["kind"] == "position"
    stocktake.record_scan(take, items[0].reference_code, acting_user=keeper, position=positions[0])
    stocktake.record_scan(take, items[1].reference_code, acting_user=keeper, position=positions[5])
    stocktake.record_scan(
        take,
        labels.barcode_payload(volume.reference_code),
        acting_user=keeper,
        position=positions[4],
    )
    stray_scan = stocktake.record_scan(
        take, stray.reference_code, acting_user=keeper, position=positions[0]
    )
    assert stray_scan["matches"] is True  # not shelved anywhere: nothing to contradict
    wrong = stocktake.record_scan(
        take, items[1].reference_code, acting_user=keeper, position=positions[5]
    )
    assert wrong["matches"] is False and wrong["expected_position"] == positions[1].code
    with pytest.raises(ValidationError, match="not a record or box"):
        stocktake.record_scan(take, "UNKNOWN-1", acting_user=keeper, position=positions[0])

    def provider(_volume_ids, item_ids):
        return {("item", items[3].pk)} & {("item", x) for x in item_ids}

    stocktake.register_on_loan_provider(provider)
    try:
        report = stocktake.close_stocktake(take, acting_user=keeper)
    finally:  # remove only ours: the borrowing app's provider must stay for later tests
        stocktake.on_loan_providers.remove(provider)
    assert report["expected"] == 5 and report["found"] == 2
    assert [e["code"] for e in report["misplaced"]] == [items[1].reference_code]
    assert [e["code"] for e in report["missing"]] == [items[2].reference_code]
    assert [e["code"] for e in report["on_loan"]] == [items[3].reference_code]
    assert {e["code"] for e in report["unexpected"]} == {stray.reference_code}
    with pytest.raises(ValidationError, match="closed"):
        stocktake.record_scan(take, "X", acting_user=keeper, position=positions[0])


def test_stocktake_unit_scope_refuses_other_positions(room, unit, keeper):
    other = services.create_shelving_unit(
        room, acting_user=None, code="04", columns=1, sections=1, layers=1
    )
    take = stocktake.open_stocktake(room, acting_user=keeper, unit=unit)
    with pytest.raises(ValidationError, match="not part"):
        stocktake.record_scan(take, other.positions.first().code, acting_user=keeper)


def test_phone_page_flow(room, unit, shelved, keeper, client_for):
    positions, items, _volume = shelved
    client = client_for(keeper)
    response = client.post(reverse("repository:staff-stocktakes"), {"room": room.pk})
    take = Stocktake.objects.get()
    assert response.url == reverse("repository:mobile-stocktake", args=[take.pk])
    page = reverse("repository:mobile-stocktake", args=[take.pk])
    client.post(page, {"code": positions[0].code})
    client.post(page, {"code": items[0].reference_code})
    assert take.scans.get().position == positions[0]
    response = client.post(page, {"close": "1"})
    take.refresh_from_db()
    assert take.status == "closed" and take.report["found"] == 1
    assert client.get(response.url).status_code == 200


def test_stocktake_api(room, unit, shelved, keeper, researcher, client_for):
    positions, items, _volume = shelved
    client = client_for(keeper)
    assert client_for(researcher).get("/api/v1/stocktakes/").status_code == 403
    created = client.post(
        "/api/v1/stocktakes/",
        {"room": room.code, "unit": unit.code},
        content_type="application/json",
    ).json()
    scan = client.post(
        f"/api/v1/stocktakes/{created['id']}/scan/",
        {"code": items[0].reference_code, "position": positions[0].code},
        content_type="application/json",
    )
    assert scan.status_code == 200 and scan.json()["kind"] == "record"
    bad = client.post(
        f"/api/v1/stocktakes/{created['id']}/scan/",
        {"code": items[1].reference_code},
        content_type="application/json",
    )
    assert bad.status_code == 400
    closed = client.post(f"/api/v1/stocktakes/{created['id']}/close/").json()
    assert closed["status"] == "closed" and closed["report"]["found"] == 1


def test_stocktake_report_names_only_records_the_viewer_may_see(
    room, unit, shelved, keeper, archivist_a, client_for
):
    """The report names only the records the viewer may see (clearance AND fonds permission);
    the others are counted per position, never named — neither code nor title — on the page and
    in the API. The archivist, who sees the fonds, gets the record by name."""
    positions, _items, _volume = shelved
    secret = make_item(_items[0].category, 20, classification=1, title="绝密工程的会议纪要")
    services.move_record(secret, positions[6], acting_user=archivist_a, reason="入库")
    take = stocktake.open_stocktake(room, acting_user=keeper)
    stocktake.close_stocktake(take, acting_user=keeper)

    keeper_page = client_for(keeper).get(reverse("repository:staff-stocktake", args=[take.pk]))
    keeper_api = client_for(keeper).get(f"/api/v1/stocktakes/{take.pk}/").json()
    archivist_page = client_for(archivist_a).get(
        reverse("repository:staff-stocktake", args=[take.pk])
    )
    html = keeper_page.content.decode()
    assert secret.reference_code not in html and "绝密工程的会议纪要" not in html
    assert positions[6].code in html  # counted at its position
    missing = {row["code"] for row in keeper_api["report"]["missing"]}
    assert secret.reference_code not in missing
    withheld = keeper_api["report"]["withheld"]["missing"]
    assert {"position": positions[6].code, "count": 1} in withheld
    assert secret.reference_code not in str(keeper_api)
    assert "绝密工程的会议纪要" in archivist_page.content.decode()


def test_stocktake_report_export_and_folded_lists(room, unit, shelved, keeper, client_for):
    positions, items, _volume = shelved
    take = stocktake.open_stocktake(room, acting_user=keeper)
    stocktake.record_scan(take, items[0].reference_code, acting_user=keeper, position=positions[0])
    stocktake.close_stocktake(take, acting_user=keeper)
    client = client_for(keeper)
    page = client.get(f"/staff/stocktakes/{take.pk}/").content.decode()
    assert f"/staff/stocktakes/{take.pk}/report.csv" in page and 'class="report-list"' in page
    response = client.get(f"/staff/stocktakes/{take.pk}/report.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert items[1].reference_code in text and items[0].reference_code not in text  # missing
    assert client_for(None).get(f"/staff/stocktakes/{take.pk}/report.csv").status_code == 302


def test_undo_scan_same_user_within_window_while_open(room, unit, shelved, keeper, settings):
    from accounts.models import AuditLog
    from core import errors
    from repository.models import StocktakeScan

    positions, items, _volume = shelved
    take = stocktake.open_stocktake(room, acting_user=keeper)
    stocktake.record_scan(take, items[0].reference_code, acting_user=keeper, position=positions[0])
    scan = take.scans.get()
    assert stocktake.undoable_scan_ids(take, [scan], keeper) == {scan.pk}
    stocktake.undo_scan(scan, keeper)
    assert not take.scans.exists()
    audit = AuditLog.objects.get(action="repository.stocktake.scan_undone")
    assert audit.actor == keeper and audit.before["code"] == items[0].reference_code
    assert audit.before["position"] == positions[0].code
    with pytest.raises(errors.Conflict, match="already been undone"):
        stocktake.undo_scan(scan, keeper)
    # Too late: after the window.
    settings.UNDO_WINDOW_SECONDS = 120
    stocktake.record_scan(take, items[1].reference_code, acting_user=keeper, position=positions[1])
    late = StocktakeScan.objects.get(stocktake=take)
    later = late.scanned_at + dt.timedelta(seconds=121)
    with time_machine.travel(later):
        assert stocktake.undoable_scan_ids(take, [late], keeper) == set()
        with pytest.raises(errors.Conflict, match="Too late"):
            stocktake.undo_scan(late, keeper)
    assert take.scans.count() == 1


def test_undo_scan_refused_to_another_user_and_after_close(
    room, unit, shelved, keeper, archivist_a
):
    from core import errors

    positions, items, _volume = shelved
    take = stocktake.open_stocktake(room, acting_user=keeper)
    stocktake.record_scan(take, items[0].reference_code, acting_user=keeper, position=positions[0])
    scan = take.scans.get()
    assert stocktake.undoable_scan_ids(take, [scan], archivist_a) == set()
    with pytest.raises(errors.NotAllowed, match="Only whoever"):
        stocktake.undo_scan(scan, archivist_a)
    stocktake.close_stocktake(take, acting_user=keeper)
    take.refresh_from_db()
    assert stocktake.undoable_scan_ids(take, [scan], keeper) == set()
    with pytest.raises(errors.Conflict, match="closed"):
        stocktake.undo_scan(scan, keeper)
    assert take.scans.count() == 1


def test_phone_page_undo_button(room, unit, shelved, keeper, archivist_a, client_for):
    positions, items, _volume = shelved
    take = stocktake.open_stocktake(room, acting_user=keeper)
    stocktake.record_scan(take, items[0].reference_code, acting_user=keeper, position=positions[0])
    scan = take.scans.get()
    page = reverse("repository:mobile-stocktake", args=[take.pk])
    assert (
        f'name="undo" value="{scan.pk}"' not in client_for(archivist_a).get(page).content.decode()
    )
    client_for(archivist_a).post(page, {"undo": scan.pk})
    assert take.scans.exists()
    client = client_for(keeper)
    assert f'name="undo" value="{scan.pk}"' in client.get(page).content.decode()
    assert client.post(page, {"undo": scan.pk}).status_code == 302
    assert not take.scans.exists()
