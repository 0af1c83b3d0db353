"""Shelving units and boxes (档案盒): services (every rule, permission, bad input, atomicity,
audit), the staff pages under /staff/locations/ and the API under /api/v1/."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditLog
from repository import boxes, services, stocktake
from repository.choices import AccessStatus
from repository.models import Box, Item, Move, Position, ShelvingUnit, StoreRoom, Volume
from search.models import OutboxEntry
from tests.e2e.conftest import chromium, page  # noqa: F401 - fixtures
from tests.repository.conftest import make_item, make_volume

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def positions(unit):
    return list(Position.objects.filter(unit=unit).order_by("path"))


@pytest.fixture
def box(ws, room, positions):
    """A box of fonds A shelved at the last position, room for 3 records."""
    return boxes.create_box(
        acting_user=None, code="J012-H-0001", fonds=ws.fonds, capacity=3, position=positions[-1]
    )


@pytest.fixture
def client_for(client_for):
    """Signed-in clients that ask for English (the archive's default language is Chinese)."""

    def make(user):
        client = client_for(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


def codes(*records):
    return [r.reference_code for r in records]


def messages_of(exc) -> list[str]:
    return exc.value.message_dict["codes"]


# --- shelving units -------------------------------------------------------------------------


UNIT = dict(code="05", columns=3, sections=2, layers=4, sides=2, kind="fixed", position_capacity=9)


@pytest.mark.parametrize("persona", ["keeper", "archivist_a", "admin"])
def test_keepers_archivists_admins_create_units_with_every_position(room, personas, persona):
    unit = services.create_shelving_unit(room, acting_user=personas[persona], **UNIT)
    created = Position.objects.filter(unit=unit)
    assert created.count() == 2 * 3 * 2 * 4
    assert set(created.values_list("capacity", flat=True)) == {9}
    assert created.order_by("path").last().code == "K01-05-B-03-02-4"
    log = AuditLog.objects.get(action="repository.unit.created", object_id=str(unit.pk))
    assert log.actor == personas[persona] and log.after["positions"] == 48


@pytest.mark.parametrize("persona", ["front_desk", "approver_secret", "researcher", "outsider"])
def test_other_roles_may_not_create_units(room, personas, persona):
    with pytest.raises(PermissionDenied):
        services.create_shelving_unit(room, acting_user=personas[persona], **UNIT)
    assert not ShelvingUnit.objects.exists() and not Position.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"code": "0-5"}, "code", "letters or digits"),
        ({"code": "123456789"}, "code", "letters or digits"),
        ({"code": "  "}, "code", "letters or digits"),
        ({"code": "架一"}, "code", "letters or digits"),
        ({"kind": "rolling"}, "kind", "fixed or mobile"),
        ({"sides": 3}, "sides", "one or two sides"),
        ({"columns": 0}, "columns", "between 1 and 99"),
        ({"layers": 100}, "layers", "between 1 and 99"),
        ({"sections": "x"}, "sections", "not a whole number"),
        ({"position_capacity": 0}, "position_capacity", "between 1 and 1000"),
        ({"name": "名" * 101}, "name", "100 characters"),
    ],
)
def test_unit_bad_input_changes_nothing(room, keeper, change, field, message):
    with pytest.raises(ValidationError) as exc:
        services.create_shelving_unit(room, acting_user=keeper, **{**UNIT, **change})
    assert message in exc.value.message_dict[field][0]
    assert not ShelvingUnit.objects.exists() and not Position.objects.exists()
    assert not AuditLog.objects.filter(action="repository.unit.created").exists()


def test_unit_too_large_and_duplicate_code(room, keeper):
    with pytest.raises(ValidationError, match="too large"):
        services.create_shelving_unit(
            room, acting_user=keeper, **{**UNIT, "columns": 99, "sections": 99, "layers": 2}
        )
    services.create_shelving_unit(room, acting_user=keeper, **UNIT)
    with pytest.raises(ValidationError) as exc:
        services.create_shelving_unit(room, acting_user=keeper, **UNIT)
    assert "already has a unit 05" in exc.value.message_dict["code"][0]
    assert ShelvingUnit.objects.count() == 1


# --- creating boxes -------------------------------------------------------------------------


def test_create_box_shelved_records_room_move_and_audit(ws, room, positions, keeper):
    created = boxes.create_box(
        acting_user=keeper, code="J012-H-0009", fonds=ws.fonds, capacity=30, position=positions[0]
    )
    assert (created.room, created.position, created.capacity) == (room, positions[0], 30)
    move = Move.objects.get(box=created)
    assert (move.from_position, move.to_position, move.moved_by) == (None, positions[0], keeper)
    log = AuditLog.objects.get(action="repository.box.created", object_id=str(created.pk))
    assert log.after["position"] == positions[0].code and log.actor == keeper
    assert services.position_occupancy(positions[0]) == 1
    assert services.where_is("J012-H-0009").kind == "box"


def test_create_box_unshelved_in_a_room_or_nowhere(ws, room, archivist_a):
    kept = boxes.create_box(acting_user=archivist_a, code="B1", fonds=ws.fonds, room=room)
    loose = boxes.create_box(acting_user=archivist_a, code="B2", fonds=ws.fonds)
    assert (kept.room, kept.position, kept.capacity) == (room, None, 20)
    assert (loose.room, loose.position) == (None, None)
    assert not Move.objects.exists()


@pytest.mark.parametrize("persona", ["front_desk", "approver_secret", "researcher", "outsider"])
def test_other_roles_may_not_create_boxes(ws, personas, persona):
    with pytest.raises(PermissionDenied):
        boxes.create_box(acting_user=personas[persona], code="B1", fonds=ws.fonds)
    assert not Box.objects.exists()


def test_create_box_bad_input(ws, room, positions, keeper, box):
    item = make_item(ws, access_status=AccessStatus.OPEN)  # the keeper sees it
    hidden = make_item(ws, 7)  # controlled: the keeper may not see it
    other_room = StoreRoom.objects.create(code="K02", name="二号库房")
    full = positions[0]
    full.capacity = 0
    full.save()
    cases = [
        ({"code": "J012-H-0001"}, "code", "already a box J012-H-0001"),
        ({"code": item.reference_code}, "code", "already a reference or position code"),
        # a record the keeper may not see is refused without being confirmed
        ({"code": hidden.reference_code}, "code", "cannot be a box code; choose another"),
        ({"code": positions[1].code}, "code", "already a reference or position code"),
        ({"code": "H 1"}, "code", "without spaces"),
        ({"code": ""}, "code", "without spaces"),
        ({"capacity": 0}, "capacity", "between 1 and 1000"),
        ({"capacity": 1001}, "capacity", "between 1 and 1000"),
        ({"position": "K09-NOPE"}, "to_position", "no position with the code"),
        ({"position": full}, "position", "is full"),
        ({"position": positions[1], "room": other_room}, "position", "not in store room K02"),
        ({"fonds": None}, "fonds", "fonds of the box"),
    ]
    for change, field, message in cases:
        data = {"code": "J012-H-0002", "fonds": ws.fonds, **change}
        with pytest.raises(ValidationError) as exc:
            boxes.create_box(acting_user=keeper, **data)
        assert message in exc.value.message_dict[field][0], change
    assert list(Box.objects.values_list("code", flat=True)) == ["J012-H-0001"]


# --- putting records in ---------------------------------------------------------------------


def test_put_in_shelved_box_records_follow_it(ws, box, positions, archivist_a):
    a = make_item(ws, 1)
    b = make_item(ws, 2)
    services.move_record(b, positions[0], acting_user=archivist_a, reason="入库")
    done = boxes.put_in_box(codes(a, b), box, acting_user=archivist_a, reason="装盒")
    assert {r.pk for r in done} == {a.pk, b.pk}
    for record, version in ((a, 2), (b, 3)):
        record.refresh_from_db()
        assert (record.box, record.position, record.version) == (box, positions[-1], version)
        assert OutboxEntry.objects.filter(object_id=record.pk, version=version).exists()
        move = Move.objects.filter(item=record).first()
        assert (move.to_position, move.reason, move.moved_by) == (
            positions[-1],
            "装盒",
            archivist_a,
        )
    assert Move.objects.get(item=b, reason="装盒").from_position == positions[0]
    log = AuditLog.objects.get(action="repository.box.records_added")
    assert log.after["records"] == codes(a, b) and log.actor == archivist_a
    assert services.position_occupancy(positions[-1]) == 1  # the box, not what is in it
    assert services.position_occupancy(positions[0]) == 0
    assert boxes.used_places(box) == 2


def test_put_in_unshelved_box_takes_records_off_their_shelf(ws, positions, archivist_a):
    loose_box = boxes.create_box(acting_user=archivist_a, code="B1", fonds=ws.fonds)
    item = make_item(ws)
    services.move_record(item, positions[0], acting_user=archivist_a, reason="入库")
    boxes.put_in_box([item], loose_box, acting_user=archivist_a)
    item.refresh_from_db()
    assert (item.box, item.position) == (loose_box, None)
    assert Move.objects.filter(item=item).first().reason == "Put into box B1"


def test_volume_goes_in_with_its_items_and_takes_one_place(ws, box, positions, archivist_a):
    volume = make_volume(ws)
    child = make_item(ws, reference_code="J012-WS·2019-Y-0001-001", volume=volume)
    boxes.put_in_box(codes(volume), box, acting_user=archivist_a)
    volume.refresh_from_db()
    child.refresh_from_db()
    assert volume.box == box and child.position == positions[-1] and child.box is None
    assert Move.objects.filter(item=child).exists()
    assert boxes.used_places(box) == 1
    with pytest.raises(ValidationError) as exc:
        boxes.put_in_box(codes(child), box, acting_user=archivist_a)
    assert "part of volume J012-WS·2019-Y-0001; put the volume in the box" in messages_of(exc)[0]


def test_one_bad_code_puts_nothing_in_and_every_problem_is_named(
    ws, ws_b, box, positions, archivist_a
):
    good = make_item(ws, 1)
    other_box = boxes.create_box(acting_user=None, code="J012-H-0002", fonds=ws.fonds)
    elsewhere = make_item(ws, 2, box=other_box)
    foreign = make_item(ws_b, 3, access_status=AccessStatus.OPEN)  # visible, other fonds
    already = make_item(ws, 4, box=box)
    with pytest.raises(ValidationError) as exc:
        boxes.put_in_box(
            [good.reference_code, "NOPE-1", *codes(elsewhere, foreign, already)],
            box,
            acting_user=archivist_a,
        )
    assert messages_of(exc) == [
        "NOPE-1: there is no record with this code.",
        f"{elsewhere.reference_code} is in box J012-H-0002; take it out of that box first.",
        f"{foreign.reference_code} belongs to fonds J099; box J012-H-0001 is for fonds J012.",
        f"{already.reference_code} is already in this box.",
    ]
    good.refresh_from_db()
    assert (good.box, good.position, good.version) == (None, None, 1)
    assert not Move.objects.filter(item__isnull=False).exists()
    assert not AuditLog.objects.filter(action="repository.box.records_added").exists()
    assert not OutboxEntry.objects.exists()


def test_full_box_refused_whole_with_a_chinese_message(ws, box, archivist_a):
    make_item(ws, 9, box=box)
    records = [make_item(ws, n) for n in (1, 2, 3)]
    with pytest.raises(ValidationError) as exc:
        boxes.put_in_box(codes(*records), box, acting_user=archivist_a)
    assert messages_of(exc) == ["Box J012-H-0001 has room for 2 more, not 3 (1 of 3 places taken)."]
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        boxes.put_in_box(codes(*records), box, acting_user=archivist_a)
    assert "档案盒 J012-H-0001" in messages_of(exc)[0]
    assert Item.objects.filter(box=box).count() == 1
    boxes.put_in_box(codes(*records[:2]), box, acting_user=archivist_a)
    assert boxes.used_places(box) == 3


def test_hidden_records_are_not_found_and_keepers_box_what_they_see(ws, box, keeper):
    hidden = make_item(ws, 1)  # controlled: the keeper has no permission on fonds A
    public = make_item(ws, 2, access_status=AccessStatus.OPEN)
    with pytest.raises(ValidationError) as exc:
        boxes.put_in_box(codes(hidden), box, acting_user=keeper)
    assert messages_of(exc) == [f"{hidden.reference_code}: there is no record with this code."]
    with pytest.raises(ValidationError, match="may not move"):
        boxes.put_in_box([hidden], box, acting_user=keeper)  # an object goes through the rule
    boxes.put_in_box(codes(public), box, acting_user=keeper)
    public.refresh_from_db()
    assert public.box == box


def test_classified_record_needs_clearance(ws, box, archivist_a):
    confidential = make_item(ws, 1, classification=2)  # 机密; archivist_a is cleared to 秘密
    secret = make_item(ws, 2, classification=1)
    with pytest.raises(ValidationError, match="no record with this code"):
        boxes.put_in_box(codes(confidential, secret), box, acting_user=archivist_a)
    boxes.put_in_box(codes(secret), box, acting_user=archivist_a)
    assert list(Item.objects.filter(box=box)) == [secret]


@pytest.mark.parametrize("persona", ["front_desk", "approver_secret", "researcher", "outsider"])
def test_other_roles_may_not_fill_empty_or_move_boxes(ws, box, positions, personas, persona):
    item = make_item(ws, 1, access_status=AccessStatus.OPEN)
    inside = make_item(ws, 2, access_status=AccessStatus.OPEN, box=box)
    user = personas[persona]
    with pytest.raises(PermissionDenied):
        boxes.put_in_box(codes(item), box, acting_user=user)
    with pytest.raises(PermissionDenied):
        boxes.take_out_of_box(codes(inside), box, acting_user=user)
    with pytest.raises(PermissionDenied):
        boxes.move_box(box, positions[0], acting_user=user, reason="x")
    with pytest.raises(PermissionDenied):
        services.move_record(box, positions[0], acting_user=user, reason="x")
    assert Item.objects.filter(box=box).count() == 1
    box.refresh_from_db()
    assert box.position == positions[-1]


def test_record_on_loan_cannot_go_in(ws, box, archivist_a):
    item = make_item(ws)

    def provider(volume_ids, item_ids):  # what borrowing's provider answers for a loan
        return {("item", pk) for pk in item_ids if pk == item.pk}

    stocktake.register_on_loan_provider(provider)
    try:
        with pytest.raises(ValidationError) as exc:
            boxes.put_in_box(codes(item), box, acting_user=archivist_a)
    finally:
        stocktake.on_loan_providers.remove(provider)
    assert messages_of(exc) == [f"{item.reference_code} is out on loan; check it in first."]


def test_codes_scanned_twice_or_as_code128_count_once(ws, box, archivist_a):
    item = make_item(ws)
    scanned = item.reference_code.replace("·", ".")
    done = boxes.put_in_box(
        [item.reference_code, scanned, " ", item.reference_code], box, acting_user=archivist_a
    )
    assert [r.pk for r in done] == [item.pk]
    assert Move.objects.filter(item=item).count() == 1


def test_no_codes_or_too_many(ws, box, archivist_a):
    with pytest.raises(ValidationError, match="at least one"):
        boxes.put_in_box(["", " "], box, acting_user=archivist_a)
    with pytest.raises(ValidationError, match="At most 500"):
        boxes.put_in_box([f"X-{n}" for n in range(501)], box, acting_user=archivist_a)


# --- taking records out ---------------------------------------------------------------------


def test_take_out_into_hands_or_onto_a_position(ws, box, positions, archivist_a):
    a, b, c = (make_item(ws, n) for n in (1, 2, 3))
    boxes.put_in_box(codes(a, b, c), box, acting_user=archivist_a)
    boxes.take_out_of_box(codes(a), box, acting_user=archivist_a)
    a.refresh_from_db()
    assert (a.box, a.position) == (None, None)
    assert Move.objects.filter(item=a).first().reason == "Taken out of box J012-H-0001"
    boxes.take_out_of_box(
        codes(b), box, acting_user=archivist_a, to_position=positions[0].code, reason="调整"
    )
    b.refresh_from_db()
    assert (b.box, b.position, b.version) == (None, positions[0], 3)
    assert services.position_occupancy(positions[0]) == 1
    log = AuditLog.objects.filter(action="repository.box.records_removed").first()
    assert log.after == {"records": codes(b), "to_position": positions[0].code}
    assert log.note == "调整"
    assert boxes.used_places(box) == 1


def test_take_out_refuses_whole_request(ws, box, positions, archivist_a):
    a, b = make_item(ws, 1), make_item(ws, 2)
    boxes.put_in_box(codes(a, b), box, acting_user=archivist_a)
    outside = make_item(ws, 3)
    with pytest.raises(ValidationError) as exc:
        boxes.take_out_of_box([*codes(a, outside), "NOPE-2"], box, acting_user=archivist_a)
    assert messages_of(exc) == [
        f"{outside.reference_code} is not in box J012-H-0001.",
        "NOPE-2: there is no record with this code.",
    ]
    positions[0].capacity = 1
    positions[0].save()
    with pytest.raises(ValidationError) as exc:
        boxes.take_out_of_box(codes(a, b), box, acting_user=archivist_a, to_position=positions[0])
    assert "room for 1 more, not 2" in exc.value.message_dict["to_position"][0]
    assert Item.objects.filter(box=box).count() == 2
    assert not AuditLog.objects.filter(action="repository.box.records_removed").exists()


# --- moving a box ---------------------------------------------------------------------------


def test_moving_a_box_moves_every_record_with_one_move_each(ws, box, positions, keeper):
    hidden = make_item(ws, 1, box=box, position=positions[-1])  # the keeper may not see it
    volume = make_volume(ws, box=box, position=positions[-1])
    child = make_item(ws, reference_code="J012-WS·2019-Y-0001-001", volume=volume)
    move = boxes.move_box(box, positions[2].code, acting_user=keeper, reason="倒架")
    assert (move.box, move.from_position, move.to_position) == (box, positions[-1], positions[2])
    for record in (hidden, volume, child):
        record.refresh_from_db()
        assert record.position == positions[2] and record.version == 2
        last = record.moves.first()
        assert (last.to_position, last.reason, last.moved_by) == (positions[2], "倒架", keeper)
    box.refresh_from_db()
    assert box.position == positions[2] and box.room == positions[2].room
    log = AuditLog.objects.get(action="repository.box.moved")
    assert log.before == {"position": positions[-1].code}
    assert log.after == {"position": positions[2].code, "records": 3}
    assert services.position_occupancy(positions[-1]) == 0


def test_move_record_of_a_box_goes_through_move_box(ws, box, positions, archivist_a):
    item = make_item(ws, box=box, position=positions[-1])
    services.move_record(box, positions[1], acting_user=archivist_a, reason="入库")
    item.refresh_from_db()
    assert item.position == positions[1]
    assert Move.objects.filter(item=item, reason="入库").count() == 1


def test_box_move_bad_input_changes_nothing(ws, box, positions, archivist_a):
    item = make_item(ws, box=box, position=positions[-1])
    positions[0].capacity = 0
    positions[0].save()
    for target, reason, message in (
        (positions[1], " ", "reason"),
        ("K09-NOPE", "r", "no position with the code"),
        (positions[0], "r", "is full"),
        (positions[-1], "r", "already at"),
    ):
        with pytest.raises(ValidationError, match=message):
            boxes.move_box(box, target, acting_user=archivist_a, reason=reason)
    boxes.move_box(box, None, acting_user=archivist_a, reason="取出")
    with pytest.raises(ValidationError, match="not on a shelf"):
        boxes.move_box(box, None, acting_user=archivist_a, reason="取出")
    item.refresh_from_db()
    box.refresh_from_db()
    assert item.position is None and box.position is None and box.room == positions[0].room


# --- contents as each user may read them ----------------------------------------------------


def test_contents_name_only_visible_records(ws, box, keeper, archivist_a):
    public = make_item(ws, 1, access_status=AccessStatus.OPEN, box=box)
    make_item(ws, 2, box=box)
    make_item(ws, 3, box=box, classification=1)
    seen = boxes.box_contents(box, keeper)
    assert [r.pk for r in seen.records] == [public.pk] and seen.hidden == 2 and seen.used == 3
    assert boxes.box_contents(box, archivist_a).hidden == 0


# --- pages ----------------------------------------------------------------------------------


def test_room_page_creates_a_unit_for_keepers(room, keeper, client_for):
    client = client_for(keeper)
    url = reverse("repository:staff-room", args=[room.pk])
    shown = client.get(url)
    assert shown.status_code == 200 and 'name="columns"' in shown.content.decode()
    data = {**UNIT, "name": "5号密集架", "kind": "mobile"}
    response = client.post(url, data)
    assert response.status_code == 302
    unit = ShelvingUnit.objects.get(code="05")
    assert unit.kind == "mobile" and unit.positions.count() == 48
    again = client.post(url, data)
    assert again.status_code == 200 and "already has a unit 05" in again.content.decode()
    bad = client.post(url, {**data, "code": "5-5"})
    assert "letters or digits" in bad.content.decode()
    assert ShelvingUnit.objects.count() == 1


def test_room_page_for_other_staff_reads_only(room, unit, front_desk, researcher, client_for):
    url = reverse("repository:staff-room", args=[room.pk])
    shown = client_for(front_desk).get(url)
    assert shown.status_code == 200 and 'name="columns"' not in shown.content.decode()
    assert client_for(front_desk).post(url, UNIT).status_code == 404
    assert client_for(researcher).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 302
    assert ShelvingUnit.objects.count() == 1
    rooms = client_for(front_desk).get(reverse("repository:staff-rooms")).content.decode()
    assert url in rooms


def test_room_page_names_its_keepers(room, keeper, front_desk, client_for):
    url = reverse("repository:staff-room", args=[room.pk])
    assert "none named" in client_for(front_desk).get(url).content.decode()
    keeper.display_name = "库房管理员 小王"  # the name people know, not the login
    keeper.save()
    room.keepers.add(keeper)
    html = client_for(front_desk).get(url).content.decode()
    assert "库房管理员 小王" in html and ">keeper<" not in html


def test_boxes_page_lists_and_creates(ws, room, box, positions, archivist_a, client_for):
    client = client_for(archivist_a)
    url = reverse("repository:staff-boxes")
    listing = client.get(url, {"room": room.pk}).content.decode()
    assert "J012-H-0001" in listing and "0 / 3" in listing
    response = client.post(
        url,
        {
            "code": "J012-H-0002",
            "fonds": ws.fonds.pk,
            "capacity": 10,
            "position": positions[0].code,
        },
    )
    created = Box.objects.get(code="J012-H-0002")
    assert response.status_code == 302 and response.url == reverse(
        "repository:staff-box", args=[created.pk]
    )
    assert created.position == positions[0] and created.room == room
    duplicate = client.post(url, {"code": "J012-H-0002", "fonds": ws.fonds.pk, "capacity": 10})
    assert "already a box J012-H-0002" in duplicate.content.decode()
    assert "J012-H-0002" not in client.get(url, {"q": "J012-H-0001"}).content.decode()


def test_boxes_page_read_only_for_front_desk_and_closed_to_others(
    ws, box, front_desk, researcher, outsider, client_for
):
    url = reverse("repository:staff-boxes")
    shown = client_for(front_desk).get(url)
    assert shown.status_code == 200 and "J012-H-0001" in shown.content.decode()
    assert 'name="capacity"' not in shown.content.decode()
    post = client_for(front_desk).post(url, {"code": "X1", "fonds": ws.fonds.pk, "capacity": 5})
    assert post.status_code == 404 and not Box.objects.filter(code="X1").exists()
    for user in (researcher, outsider):
        assert client_for(user).get(url).status_code == 404
    box_url = reverse("repository:staff-box", args=[box.pk])
    assert client_for(front_desk).get(box_url).status_code == 200
    added = client_for(front_desk).post(box_url, {"action": "add", "codes": "X"})
    assert added.status_code == 404
    assert client_for(researcher).get(box_url).status_code == 404


def test_box_page_add_is_all_or_nothing_with_per_code_errors(ws, box, archivist_a, client_for):
    a, b = make_item(ws, 1), make_item(ws, 2)
    client = client_for(archivist_a)
    url = reverse("repository:staff-box", args=[box.pk])
    bad = client.post(url, {"action": "add", "codes": f"{a.reference_code}\nNOPE-9\n"})
    text = bad.content.decode()
    assert bad.status_code == 200 and "NOPE-9: there is no record with this code." in text
    assert a.reference_code in text  # the codes stay in the form
    assert not Item.objects.filter(box=box).exists()
    done = client.post(
        url, {"action": "add", "codes": f"{a.reference_code}\r\n{b.reference_code}\r\n"}
    )
    assert done.status_code == 302
    assert set(Item.objects.filter(box=box)) == {a, b}
    shown = client.get(url).content.decode()
    assert a.title in shown and "2 of 3 places used" in shown


def test_box_page_take_out_and_move(ws, box, positions, archivist_a, client_for):
    a, b = make_item(ws, 1, box=box), make_item(ws, 2, box=box)
    client = client_for(archivist_a)
    url = reverse("repository:staff-box", args=[box.pk])
    response = client.post(
        url, {"action": "remove", "codes": [a.reference_code], "to_position": positions[0].code}
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.box is None and a.position == positions[0]
    unknown = client.post(url, {"action": "remove", "codes": ["NOT-INSIDE"]})
    assert unknown.status_code == 200 and "NOT-INSIDE" in unknown.content.decode()
    moved = client.post(url, {"action": "move", "to_position": positions[1].code, "reason": "倒架"})
    assert moved.status_code == 302
    b.refresh_from_db()
    assert b.position == positions[1]
    full = client.post(url, {"action": "move", "to_position": positions[1].code, "reason": "r"})
    assert "already at" in full.content.decode()


def test_box_page_counts_records_the_user_may_not_see(ws, box, keeper, client_for):
    make_item(ws, 1, box=box, title="不公开的会议纪要")
    public = make_item(ws, 2, box=box, access_status=AccessStatus.OPEN)
    shown = client_for(keeper).get(reverse("repository:staff-box", args=[box.pk])).content.decode()
    assert public.title in shown
    assert "不公开的会议纪要" not in shown and "J012-WS·2019-Y-BGS-0001" not in shown
    assert "and 1 more you may not see" in shown


def test_box_pages_in_chinese_and_navigation(ws, box, keeper, front_desk, client_for):
    from accounts.navigation import items_for

    assert any(i["name"] == "repository:staff-boxes" for i in items_for(keeper))
    assert any(i["name"] == "repository:staff-boxes" for i in items_for(front_desk))
    shown = client_for(keeper).get(
        reverse("repository:staff-box", args=[box.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    text = shown.content.decode()
    assert "档案盒" in text and "<script>" not in text and "style=" not in text


def test_record_page_and_where_is_link_the_box(ws, box, archivist_a, client_for):
    item = make_item(ws, box=box)
    client = client_for(archivist_a)
    box_url = reverse("repository:staff-box", args=[box.pk])
    record = client.get(reverse("repository:staff-record", args=["item", item.pk]))
    assert box_url in record.content.decode()
    found = client.get(reverse("repository:staff-where-is"), {"code": box.code})
    assert box_url in found.content.decode()


# --- API ------------------------------------------------------------------------------------


def api_post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_api_shelving_units(room, personas, client_for):
    data = {"room": "K01", **UNIT}
    for name, expected in (
        ("public", 403),
        ("researcher", 403),
        ("outsider", 403),
        ("front_desk", 403),
        ("approver_secret", 403),
    ):
        response = api_post(client_for(personas[name]), "/api/v1/shelving-units/", data)
        assert response.status_code == expected, name
    keeper = client_for(personas["keeper"])
    created = api_post(keeper, "/api/v1/shelving-units/", data)
    assert created.status_code == 201
    assert created.json()["positions"] == 48 and created.json()["kind"] == "fixed"
    duplicate = api_post(keeper, "/api/v1/shelving-units/", data).json()
    assert "already has a unit" in duplicate["errors"]["code"][0]
    no_room = api_post(keeper, "/api/v1/shelving-units/", {**data, "room": "K99"})
    assert no_room.status_code == 400 and "room" in no_room.json()["errors"]
    bad = api_post(keeper, "/api/v1/shelving-units/", {**data, "code": "07", "sides": 3})
    assert bad.status_code == 400 and "sides" in bad.json()["errors"]
    listed = client_for(personas["front_desk"]).get("/api/v1/shelving-units/", {"room": "K01"})
    assert [u["code"] for u in listed.json()["results"]] == ["05"]
    assert client_for(personas["researcher"]).get("/api/v1/shelving-units/").status_code == 403


def test_api_box_create_and_list(ws, room, positions, personas, client_for):
    data = {"code": "J012-H-0005", "fonds": "J012", "capacity": 5, "position": positions[0].code}
    for name in ("public", "researcher", "outsider", "front_desk"):
        assert api_post(client_for(personas[name]), "/api/v1/boxes/", data).status_code == 403
    keeper = client_for(personas["keeper"])
    created = api_post(keeper, "/api/v1/boxes/", data)
    assert created.status_code == 201
    body = created.json()
    assert (body["room"], body["position"], body["used"], body["hidden"]) == (
        "K01",
        positions[0].code,
        0,
        0,
    )
    duplicate = api_post(keeper, "/api/v1/boxes/", data)
    assert duplicate.status_code == 400 and "already a box" in duplicate.json()["errors"]["code"][0]
    assert api_post(keeper, "/api/v1/boxes/", {**data, "fonds": "X"}).json()["errors"]["fonds"]
    assert (
        api_post(keeper, "/api/v1/boxes/", {**data, "code": "B", "room": "K9"}).status_code == 400
    )
    listed = client_for(personas["front_desk"]).get("/api/v1/boxes/", {"room": "K01"}).json()
    assert [b["code"] for b in listed["results"]] == ["J012-H-0005"]
    assert (
        client_for(personas["front_desk"])
        .get("/api/v1/boxes/", {"fonds": "J099"})
        .json()["results"]
        == []
    )
    assert client_for(personas["researcher"]).get("/api/v1/boxes/").status_code == 403


def test_api_box_contents_add_remove_and_visibility(ws, box, positions, personas, client_for):
    archivist = client_for(personas["archivist_a"])
    a, b = make_item(ws, 1), make_item(ws, 2)
    url = f"/api/v1/boxes/{box.pk}/"
    bad = api_post(archivist, url + "add/", {"codes": [a.reference_code, "NOPE-3"]})
    assert bad.status_code == 400
    assert bad.json()["errors"]["codes"] == ["NOPE-3: there is no record with this code."]
    assert not Item.objects.filter(box=box).exists()
    added = api_post(archivist, url + "add/", {"codes": codes(a, b), "reason": "装盒"})
    assert added.status_code == 200
    assert [r["reference_code"] for r in added.json()["contents"]] == codes(a, b)
    assert added.json()["used"] == 2
    keeper_view = client_for(personas["keeper"]).get(url).json()
    assert keeper_view["contents"] == [] and keeper_view["hidden"] == 2
    assert client_for(personas["front_desk"]).get(url).status_code == 200
    assert client_for(personas["researcher"]).get(url).status_code == 403
    hidden_take = api_post(client_for(personas["keeper"]), url + "remove/", {"codes": codes(a)})
    assert hidden_take.status_code == 400  # not found for the keeper
    front = api_post(client_for(personas["front_desk"]), url + "remove/", {"codes": codes(a)})
    assert front.status_code == 403
    removed = api_post(
        archivist, url + "remove/", {"codes": codes(a), "to_position": positions[0].code}
    )
    assert removed.status_code == 200 and removed.json()["used"] == 1
    a.refresh_from_db()
    assert a.position == positions[0] and a.box is None
    assert api_post(archivist, url + "add/", {"codes": []}).status_code == 400
    assert api_post(archivist, "/api/v1/boxes/99999/add/", {"codes": ["X"]}).status_code == 404


def test_api_box_move(ws, box, positions, personas, client_for):
    item = make_item(ws, box=box, position=positions[-1])
    url = f"/api/v1/boxes/{box.pk}/move/"
    data = {"to_position": positions[3].code, "reason": "倒架"}
    assert api_post(client_for(personas["front_desk"]), url, data).status_code == 403
    moved = api_post(client_for(personas["keeper"]), url, data)
    assert moved.status_code == 201
    assert moved.json()["box"] == box.pk and moved.json()["to_position"] == positions[3].code
    item.refresh_from_db()
    assert item.position == positions[3]
    again = api_post(client_for(personas["keeper"]), url, data)
    assert again.status_code == 400 and "already at" in again.json()["errors"]["to_position"][0]
    off = api_post(client_for(personas["keeper"]), url, {"to_position": "", "reason": "出库"})
    assert off.status_code == 201 and off.json()["to_position"] is None
    item.refresh_from_db()
    assert item.position is None
    assert Volume.objects.count() == 0


# --- renaming and deleting boxes --------------------------------------------------------------


def test_update_box_renames_resizes_and_audits_only_what_changed(ws, box, keeper):
    make_item(ws, 1, box=box)
    make_item(ws, 2, box=box)
    boxes.update_box(box, acting_user=keeper, code="J012-H-0100", capacity=2, notes="新盒")
    box.refresh_from_db()
    assert (box.code, box.capacity, box.notes) == ("J012-H-0100", 2, "新盒")
    log = AuditLog.objects.get(action="repository.box.updated", object_id=str(box.pk))
    assert log.before == {"code": "J012-H-0001", "capacity": 3, "notes": ""}
    assert log.after == {"code": "J012-H-0100", "capacity": 2, "notes": "新盒"}
    boxes.update_box(box, acting_user=keeper, code="J012-H-0100", notes="新盒")  # no change
    assert AuditLog.objects.filter(action="repository.box.updated").count() == 1


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"capacity": 1}, "capacity", "2 places are in use"),
        ({"capacity": 0}, "capacity", "between 1 and 1000"),
        ({"code": "has space"}, "code", "without spaces"),
        ({"code": "J012-H-0002"}, "code", "already a box"),
        ({"code": "J012-WS·2019-Y-BGS-0001"}, "code", "cannot be a box code"),  # hidden
        ({"notes": "长" * 201}, "notes", "At most 200"),
    ],
)
def test_update_box_bad_input_changes_nothing(ws, room, box, keeper, change, field, message):
    make_item(ws, 1, box=box)
    make_item(ws, 2, box=box)
    boxes.create_box(acting_user=keeper, code="J012-H-0002", fonds=ws.fonds, room=room)
    with pytest.raises(ValidationError) as exc:
        boxes.update_box(box, acting_user=keeper, **change)
    assert message in exc.value.message_dict[field][0]
    box.refresh_from_db()
    assert (box.code, box.capacity, box.notes) == ("J012-H-0001", 3, "")
    assert not AuditLog.objects.filter(action="repository.box.updated").exists()


@pytest.mark.parametrize("persona", ["front_desk", "approver_secret", "researcher", "outsider"])
def test_other_roles_may_not_rename_or_delete_boxes(ws, box, personas, persona):
    with pytest.raises(PermissionDenied):
        boxes.update_box(box, acting_user=personas[persona], code="J012-H-0999")
    with pytest.raises(PermissionDenied):
        boxes.delete_box(box, acting_user=personas[persona], reason="破损")
    assert Box.objects.get(pk=box.pk).code == "J012-H-0001"


def test_delete_box_only_when_empty_and_the_audit_keeps_its_moves(
    ws, box, positions, keeper, archivist_a
):
    item = make_item(ws, 1, box=box)
    with pytest.raises(ValidationError) as exc:
        boxes.delete_box(box, acting_user=keeper, reason="破损")
    assert "still holds 1 records" in exc.value.message_dict["box"][0]
    with pytest.raises(ValidationError) as exc:
        boxes.delete_box(box, acting_user=keeper, reason=" ")
    assert "reason" in exc.value.message_dict
    boxes.take_out_of_box([item.reference_code], box, acting_user=archivist_a)
    boxes.move_box(box, positions[0], acting_user=keeper, reason="倒架")
    pk = box.pk
    boxes.delete_box(box, acting_user=keeper, reason="破损")
    assert not Box.objects.filter(pk=pk).exists() and not Move.objects.filter(box_id=pk).exists()
    log = AuditLog.objects.get(action="repository.box.deleted", object_id=str(pk))
    assert log.before["code"] == "J012-H-0001" and log.note == "破损"
    assert [(m["from"], m["to"]) for m in log.before["moves"]] == [
        (None, positions[-1].code),
        (positions[-1].code, positions[0].code),
    ]
    assert Item.objects.filter(pk=item.pk).exists()  # its records are untouched


def test_box_page_edit_and_delete(ws, box, keeper, front_desk, client_for):
    url = reverse("repository:staff-box", args=[box.pk])
    assert client_for(front_desk).post(url, {"action": "delete", "reason": "x"}).status_code == 404
    client = client_for(keeper)
    html = client.get(url).content.decode()
    assert "Edit the box" in html and "Delete the box" in html
    bad = client.post(url, {"action": "edit", "code": "a b", "capacity": 3})
    assert bad.status_code == 200 and "without spaces" in bad.content.decode()
    saved = client.post(url, {"action": "edit", "code": "J012-H-0009", "capacity": 5})
    assert saved.status_code == 302
    box.refresh_from_db()
    assert (box.code, box.capacity) == ("J012-H-0009", 5)
    make_item(ws, 1, box=box)
    assert "Delete the box" not in client.get(url).content.decode()  # not offered: not empty
    refused = client.post(url, {"action": "delete", "reason": "破损"})
    assert refused.status_code == 200 and "still holds 1 records" in refused.content.decode()
    Item.objects.filter(box=box).update(box=None)
    gone = client.post(url, {"action": "delete", "reason": "破损"})
    assert gone.status_code == 302 and gone.url == reverse("repository:staff-boxes")
    assert not Box.objects.filter(pk=box.pk).exists()


def test_api_box_update_and_delete(ws, box, personas, client_for):
    url = f"/api/v1/boxes/{box.pk}/"
    keeper = client_for(personas["keeper"])
    patch = dict(content_type="application/json")
    assert client_for(personas["front_desk"]).patch(url, {"notes": "x"}, **patch).status_code == 403
    bad = keeper.patch(url, {"capacity": 0}, **patch)
    assert bad.status_code == 400 and "between 1 and 1000" in bad.json()["errors"]["capacity"][0]
    ok = keeper.patch(url, {"code": "J012-H-0042", "notes": "新"}, **patch)
    assert ok.status_code == 200 and ok.json()["code"] == "J012-H-0042"
    make_item(ws, 1, box=box)
    assert client_for(personas["front_desk"]).delete(url + "?reason=x").status_code == 403
    assert keeper.delete(url).status_code == 400  # no reason
    full = keeper.delete(url + "?reason=破损")
    assert full.status_code == 400 and "still holds" in full.json()["errors"]["box"][0]
    Item.objects.filter(box=box).update(box=None)
    assert keeper.delete(url + "?reason=破损").status_code == 204
    assert not Box.objects.filter(pk=box.pk).exists()


# --- query counts and the phone -------------------------------------------------------------


def test_box_list_and_detail_query_counts_do_not_grow(ws, room, positions, keeper, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(url, **params):
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(keeper).get(url, params).status_code == 200
        return len(ctx.captured_queries)

    first = boxes.create_box(acting_user=None, code="B00", fonds=ws.fonds, position=positions[0])
    make_item(ws, 100, box=first, access_status=AccessStatus.OPEN)
    detail = f"/api/v1/boxes/{first.pk}/"
    few = [count(u) for u in ("/api/v1/boxes/", reverse("repository:staff-boxes"))]
    few += [count(detail), count(reverse("repository:staff-box", args=[first.pk]))]
    few.append(count(reverse("repository:staff-room", args=[room.pk])))
    for n in range(1, 8):
        other = boxes.create_box(
            acting_user=None, code=f"B{n:02d}", fonds=ws.fonds, position=positions[n]
        )
        make_item(ws, n, box=other, access_status=AccessStatus.OPEN)
        make_item(ws, 200 + n, box=first, access_status=AccessStatus.OPEN)
    many = [count(u) for u in ("/api/v1/boxes/", reverse("repository:staff-boxes"))]
    many += [count(detail), count(reverse("repository:staff-box", args=[first.pk]))]
    many.append(count(reverse("repository:staff-room", args=[room.pk])))
    assert few == many


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_box_page_on_a_phone(page, ws, box, room, keeper):  # noqa: F811
    from tests.conftest import PASSWORD

    public = make_item(ws, 1, access_status=AccessStatus.OPEN)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "keeper")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/")
    page.goto(f"/staff/locations/boxes/{box.pk}/")
    page.fill("textarea[name=codes]", f"{public.reference_code}\nNOPE-1")
    page.click("text=装盒")
    page.wait_for_selector("text=NOPE-1：没有这个档号的档案。")
    page.fill("textarea[name=codes]", public.reference_code)
    page.click("text=装盒")
    page.wait_for_selector(f".box-contents >> text={public.title}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"/staff/locations/rooms/{room.pk}/")
    page.wait_for_selector("text=新建档案架")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


# --- stocktake with boxes -------------------------------------------------------------------


def test_stocktake_counts_a_box_not_what_is_inside_it(ws, room, box, positions, keeper):
    """A boxed volume travels with its box: the box is expected, not the volume; files in the
    box (or items of a volume) scanned one by one are accounted for, not "unexpected"."""
    volume = make_volume(ws)
    child = make_item(ws, reference_code="J012-WS·2019-Y-0001-001", volume=volume)
    loose = make_item(ws, 3)
    boxes.put_in_box(codes(volume, loose), box, acting_user=None)
    take = stocktake.open_stocktake(room, acting_user=keeper)
    for code in (box.code, volume.reference_code, child.reference_code, loose.reference_code):
        stocktake.record_scan(take, code, acting_user=keeper, position=positions[-1])
    report = stocktake.close_stocktake(take, acting_user=keeper)
    assert report["expected"] == 1 and report["found"] == 1
    assert report["unexpected"] == [] and report["missing"] == []
