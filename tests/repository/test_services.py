"""Catalogue and location services: every rule, and bad input that changes nothing."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts.models import AuditLog
from repository import services
from repository.choices import AccessStatus, OpeningDecision
from repository.models import Box, Item, Move, OpeningReview, Position, StoreRoom, Volume
from search.models import OutboxEntry
from tests.repository.conftest import make_item, make_volume

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def item_data(ws, **extra):
    data = {
        "fonds": ws.fonds,
        "category": ws,
        "title": "关于开展档案安全检查的通知",
        "creator": "某市档案局",
        "date": "2019-03-05",
        "retention": "Y",
        "access_status": "unreviewed",
        "org_unit": "BGS",
        "filing_year": 2019,
    }
    data.update(extra)
    return data


def test_create_item_assigns_next_code_audits_and_enqueues(ws, archivist_a):
    make_item(ws, 7)
    item = services.create_record("item", item_data(ws), acting_user=archivist_a)
    assert item.reference_code == "J012-WS·2019-Y-BGS-0008"
    assert item.date_start == dt.date(2019, 3, 5)
    assert AuditLog.objects.filter(
        action="repository.item.created", object_id=str(item.pk)
    ).exists()
    assert OutboxEntry.objects.filter(model_label="repository.item", object_id=item.pk).exists()


def test_create_with_explicit_code_validated_by_segment(ws, archivist_a):
    with pytest.raises(ValidationError) as exc:
        services.create_record(
            "item", item_data(ws, reference_code="J012-WS·2019-Y-BGS-01"), acting_user=archivist_a
        )
    assert "4 digits" in exc.value.message_dict["reference_code"][0]
    assert not Item.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="repository.").exists()


def test_duplicate_code_refused_across_volumes_and_items(ws, archivist_a):
    make_volume(ws, 1)
    code = "J012-WS·2019-Y-0001"
    with pytest.raises(ValidationError, match="already used"):
        services.create_record(
            "volume",
            {
                "fonds": ws.fonds,
                "category": ws,
                "title": "卷",
                "creator": "某市档案局",
                "date": "2019",
                "reference_code": code,
                "retention": "Y",
                "filing_year": 2019,
                "access_status": "unreviewed",
            },
            acting_user=archivist_a,
        )
    assert Volume.objects.count() == 1


def test_impossible_date_refused(ws, archivist_a):
    with pytest.raises(ValidationError) as exc:
        services.create_record("item", item_data(ws, date="2019-13-01"), acting_user=archivist_a)
    assert "month 13" in exc.value.message_dict["date"][0]
    assert not Item.objects.exists()


def test_missing_mandatory_elements_named(ws, archivist_a):
    with pytest.raises(ValidationError) as exc:
        services.create_record("item", item_data(ws, title="", date=""), acting_user=archivist_a)
    assert {"title", "date"} <= set(exc.value.message_dict)


def test_mandatory_in_chinese(ws, archivist_a):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.create_record("item", item_data(ws, title=""), acting_user=archivist_a)
    assert "题名是必备著录项" in exc.value.message_dict["title"][0]


def test_classified_record_cannot_be_open(ws, archivist_a):
    # Describing cannot open at all now; the opening decision refuses a classified record.
    with pytest.raises(ValidationError, match="opening review decision"):
        services.create_record(
            "item", item_data(ws, classification=1, access_status="open"), acting_user=archivist_a
        )
    item = services.create_record("item", item_data(ws, classification=1), acting_user=archivist_a)
    with pytest.raises(ValidationError, match="classified"):
        services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)


def test_archivist_cannot_exceed_clearance_or_other_fonds(ws, ws_b, archivist_a, keeper):
    with pytest.raises(PermissionDenied):
        services.create_record("item", item_data(ws, classification=2), acting_user=archivist_a)
    with pytest.raises(PermissionDenied):
        services.create_record(
            "item",
            item_data(ws_b, fonds=ws_b.fonds, category=ws_b),
            acting_user=archivist_a,
        )
    with pytest.raises(PermissionDenied):
        services.create_record("item", item_data(ws), acting_user=keeper)


def test_update_bumps_version_and_audits_diff(ws, archivist_a):
    item = make_item(ws)
    updated = services.update_record(
        item, {"title": "新题名", "pages": "12"}, acting_user=archivist_a
    )
    assert updated.version == 2 and updated.pages == 12
    log = AuditLog.objects.get(action="repository.item.updated")
    assert log.before == {"title": item.title, "pages": None}
    assert log.after == {"title": "新题名", "pages": 12}


def test_update_cannot_change_code_silently(ws, archivist_a):
    item = make_item(ws)
    with pytest.raises(ValidationError, match="renumber"):
        services.update_record(
            item, {"reference_code": "J012-WS·2019-Y-BGS-0009"}, acting_user=archivist_a
        )


def test_renumber_is_explicit_and_audited_old_to_new(ws, archivist_a):
    volume = make_volume(ws, 3)
    child = make_item(ws, reference_code="J012-WS·2019-Y-0003-001", volume=volume)
    with pytest.raises(ValidationError, match="reason"):
        services.renumber_record(volume, "J012-WS·2019-Y-0004", acting_user=archivist_a, reason="")
    services.renumber_record(
        volume, "J012-WS·2019-Y-0004", acting_user=archivist_a, reason="整理时发现重号"
    )
    child.refresh_from_db()
    assert child.reference_code == "J012-WS·2019-Y-0004-001"
    logs = AuditLog.objects.filter(action__endswith=".renumbered").order_by("id")
    assert [(log.before["reference_code"], log.after["reference_code"]) for log in logs] == [
        ("J012-WS·2019-Y-0003", "J012-WS·2019-Y-0004"),
        ("J012-WS·2019-Y-0003-001", "J012-WS·2019-Y-0004-001"),
    ]


def test_renumber_refuses_invalid_or_taken_code(ws, archivist_a):
    a, b = make_item(ws, 1), make_item(ws, 2)
    with pytest.raises(ValidationError, match="already used"):
        services.renumber_record(a, b.reference_code, acting_user=archivist_a, reason="x")
    with pytest.raises(ValidationError, match="segment"):
        services.renumber_record(a, "J012-WS·19-Y-BGS-0003", acting_user=archivist_a, reason="x")
    a.refresh_from_db()
    assert a.reference_code.endswith("0001")


def test_delete_audits_and_enqueues_tombstone(ws, archivist_a):
    item = make_item(ws)
    pk = item.pk
    services.delete_record(item, acting_user=archivist_a)
    assert not Item.objects.filter(pk=pk).exists()
    assert OutboxEntry.objects.filter(object_id=pk, deleted=True).exists()
    assert AuditLog.objects.filter(action="repository.item.deleted", object_id=str(pk)).exists()


# --- opening review ---------------------------------------------------------------------


@time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))
def test_review_queue_by_opening_age(ws):
    old = make_item(ws, 1, year=2000, access_status=AccessStatus.UNREVIEWED)
    young = make_item(ws, 2, year=2010, access_status=AccessStatus.UNREVIEWED)
    opened = make_item(ws, 3, year=1990, access_status=AccessStatus.OPEN)
    later = make_item(ws, 4, year=1995, next_review_on=dt.date(2027, 1, 1))
    queue = set(services.review_queue_for(Item))
    assert old in queue and young not in queue and opened not in queue and later not in queue
    ws.opening_age_years = 10
    ws.save()
    assert young in set(services.review_queue_for(Item))


def test_keep_controlled_needs_reason_and_future_date(ws, archivist_a):
    item = make_item(ws, year=1990)
    with pytest.raises(ValidationError) as exc:
        services.decide_opening(item, OpeningDecision.CONTROLLED, acting_user=archivist_a)
    assert {"reason", "next_review_on"} <= set(exc.value.message_dict)
    review_on = dt.date.today() + dt.timedelta(days=365 * 5)
    services.decide_opening(
        item,
        OpeningDecision.CONTROLLED,
        acting_user=archivist_a,
        reason="涉及个人隐私",
        next_review_on=review_on,
    )
    item.refresh_from_db()
    assert item.access_status == AccessStatus.CONTROLLED and item.next_review_on == review_on
    assert OpeningReview.objects.get().reason == "涉及个人隐私"


def test_open_makes_record_public_at_once(ws, archivist_a):
    item = make_item(ws, year=1990)
    assert not Item.objects.visible_to(None).filter(pk=item.pk).exists()
    services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)
    assert Item.objects.visible_to(None).filter(pk=item.pk).exists()
    assert AuditLog.objects.filter(action="repository.opening.decided").exists()
    assert OutboxEntry.objects.filter(object_id=item.pk, version=2).exists()


def test_classified_record_cannot_be_opened(ws, archivist_a):
    item = make_item(ws, year=1990, classification=1)
    with pytest.raises(ValidationError, match="declassify"):
        services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)


def test_open_in_part_needs_pages(ws, archivist_a):
    item = make_item(ws, year=1990, pages=4)
    with pytest.raises(ValidationError):
        services.decide_opening(item, OpeningDecision.PARTIAL, acting_user=archivist_a, reason="r")
    review = services.decide_opening(
        item,
        OpeningDecision.PARTIAL,
        acting_user=archivist_a,
        reason="第3页涉密",
        withheld_pages=[3],
    )
    assert review.withheld_pages == [3]


# --- locations --------------------------------------------------------------------------


def test_unit_creates_every_position(unit):
    assert Position.objects.filter(unit=unit).count() == 2 * 2 * 2 * 3
    first = Position.objects.filter(unit=unit).order_by("path").first()
    assert first.code == "K01-03-A-01-01-1"


def test_move_records_from_to_who_why(ws, unit, archivist_a):
    item = make_item(ws)
    p1, p2 = Position.objects.order_by("path")[:2]
    services.move_record(item, p1, acting_user=archivist_a, reason="入库")
    move = services.move_record(item, p2.code, acting_user=archivist_a, reason="调整排架")
    assert (move.from_position, move.to_position, move.moved_by, move.reason) == (
        p1,
        p2,
        archivist_a,
        "调整排架",
    )
    item.refresh_from_db()
    assert item.position == p2 and item.version == 3
    assert AuditLog.objects.filter(action="repository.item.moved").count() == 2


def test_move_to_full_or_unknown_position_changes_nothing(ws, unit, archivist_a):
    p1, p2 = Position.objects.order_by("path")[:2]
    a, b, c = make_item(ws, 1), make_item(ws, 2), make_item(ws, 3)
    services.move_record(a, p1, acting_user=archivist_a, reason="入库")
    services.move_record(b, p1, acting_user=archivist_a, reason="入库")
    with pytest.raises(ValidationError, match=r"full \(2 of 2"):
        services.move_record(c, p1, acting_user=archivist_a, reason="入库")
    with pytest.raises(ValidationError, match="no position with the code"):
        services.move_record(c, "K09-99-A-01-01-1", acting_user=archivist_a, reason="入库")
    with pytest.raises(ValidationError, match="reason"):
        services.move_record(c, p2, acting_user=archivist_a, reason=" ")
    with pytest.raises(ValidationError, match="At most 200"):  # the column's length, not a 500
        services.move_record(c, p2, acting_user=archivist_a, reason="长" * 201)
    c.refresh_from_db()
    assert c.position is None and c.version == 1
    assert Move.objects.count() == 2


def test_move_needs_visibility(ws, unit, keeper):
    item = make_item(ws)
    with pytest.raises(PermissionDenied):
        services.move_record(item, Position.objects.first(), acting_user=keeper, reason="x")


def test_box_moves_its_contents(ws, unit, archivist_a):
    box = Box.objects.create(code="H-0001", fonds=ws.fonds)
    a, b = make_item(ws, 1, box=box), make_item(ws, 2, box=box)
    target = Position.objects.order_by("path").last()
    services.move_record(box, target, acting_user=archivist_a, reason="入库")
    assert set(Item.objects.filter(position=target)) == {a, b}
    assert services.position_occupancy(target) == 1


def test_volume_carries_its_items(ws, unit, archivist_a):
    volume = make_volume(ws)
    child = make_item(ws, reference_code="J012-WS·2019-Y-0001-001", volume=volume)
    target = Position.objects.first()
    services.move_record(volume, target, acting_user=archivist_a, reason="入库")
    child.refresh_from_db()
    assert child.position == target
    assert services.position_occupancy(target) == 1


def test_where_is_and_room_occupancy(ws, unit, room, archivist_a, keeper):
    item = make_item(ws)
    target = Position.objects.first()
    services.move_record(item, target, acting_user=archivist_a, reason="入库")
    found = services.where_is(item.reference_code, user=archivist_a)
    assert found.kind == "item" and found.position == target and found.room == room
    assert services.where_is(item.reference_code, user=keeper) is None  # hidden = not found
    assert services.where_is(target.code).kind == "position"
    assert services.where_is("nothing") is None
    occupancy = services.room_occupancy(room)
    assert occupancy["used"] == 1 and occupancy["capacity"] == 24 * 2
    volumes, items = services.records_in_room(room)
    assert list(items) == [item]


def test_rooms_overview_counts_each_room_alone_in_five_queries(
    ws, unit, room, archivist_a, django_assert_max_num_queries
):
    other = StoreRoom.objects.create(code="K02", name="二号库房")
    services.create_shelving_unit(
        other, acting_user=None, code="01", columns=1, sections=1, layers=2, sides=1,
        position_capacity=3,
    )  # fmt: skip
    there = Position.objects.filter(room=other).first()
    here = Position.objects.filter(room=room).first()
    for n, target in enumerate((here, there, there), start=1):
        services.move_record(make_item(ws, n), target, acting_user=archivist_a, reason="入库")
    empty = StoreRoom.objects.create(code="K03", name="三号库房")
    with django_assert_max_num_queries(5):
        overview = services.rooms_occupancy([room, other, empty])
    assert [(o["room"], o["used"], o["capacity"]) for o in overview] == [
        (room, 1, 48),
        (other, 2, 6),
        (empty, 0, 0),
    ]
    for one in overview:  # the same answer as one room at a time
        alone = services.room_occupancy(one["room"])
        assert (alone["used"], alone["capacity"], alone["percent"]) == (
            one["used"], one["capacity"], one["percent"]
        )  # fmt: skip


def test_retrieval_list_in_shelf_order(ws, unit, archivist_a):
    positions = list(Position.objects.order_by("path"))
    a, b, c = make_item(ws, 1), make_item(ws, 2), make_item(ws, 3)
    services.move_record(a, positions[5], acting_user=archivist_a, reason="r")
    services.move_record(b, positions[0], acting_user=archivist_a, reason="r")
    assert [r.pk for r in services.retrieval_list(Item.objects.all())] == [b.pk, a.pk, c.pk]


def test_classified_view_is_audited(ws, archivist_a):
    secret = make_item(ws, 1, classification=1)
    plain = make_item(ws, 2)
    services.record_classified_view(secret, acting_user=archivist_a)
    services.record_classified_view(plain, acting_user=archivist_a)
    assert AuditLog.objects.filter(action="repository.item.viewed").count() == 1
