"""The store rooms' queryset doors: one rule per kind, and the page and the API list the same
thing because both go through it."""

from __future__ import annotations

from repository import boxes, services
from repository.models import Box, Fonds, Move, Position
from tests.repository.conftest import make_item


def _moves(fonds_a_category, fonds_b_category, unit):
    positions = list(unit.positions.order_by("path"))
    seen = make_item(fonds_a_category, 1)
    hidden = make_item(fonds_b_category, 2)
    services.move_record(seen, positions[0], acting_user=None, reason="shelved")
    services.move_record(hidden, positions[1], acting_user=None, reason="shelved")
    box = boxes.create_box(acting_user=None, code="H0001", fonds=fonds_a_category.fonds)
    boxes.move_box(box, positions[2], acting_user=None, reason="shelved")
    by_subject = {(m.item_id, m.box_id): m.pk for m in Move.objects.all()}
    return (
        by_subject[(seen.pk, None)],
        by_subject[(hidden.pk, None)],
        by_subject[(None, box.pk)],
    )


def test_moves_door_is_the_record_door_for_staff_and_nothing_for_others(
    ws, ws_b, unit, archivist_a, keeper, researcher
):
    seen, hidden, box_move = _moves(ws, ws_b, unit)
    listed = set(Move.objects.visible_to(archivist_a).values_list("pk", flat=True))
    assert listed == {seen, box_move}
    # A keeper holds no fonds permission: controlled records are behind the door for them.
    assert set(Move.objects.visible_to(keeper).values_list("pk", flat=True)) == {box_move}
    assert not Move.objects.visible_to(researcher).exists()
    assert not Move.objects.visible_to(None).exists()
    assert hidden not in set(Move.objects.visible_to(archivist_a).values_list("pk", flat=True))


def test_moves_page_and_api_list_the_same_moves(client_for, ws, ws_b, unit, archivist_a):
    seen, hidden, box_move = _moves(ws, ws_b, unit)
    client = client_for(archivist_a)
    api = client.get("/api/v1/moves/")
    assert api.status_code == 200
    rows = api.json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    page = client.get("/staff/locations/moves/")
    assert page.status_code == 200
    assert {row["id"] for row in rows} == {m.pk for m in page.context["moves"]} == {seen, box_move}


def test_places_door_is_staff_only(unit, keeper, researcher, outsider):
    boxes.create_box(acting_user=None, code="H0002", fonds=make_fonds())
    total = Position.objects.count()
    assert total and Position.objects.visible_to(keeper).count() == total
    assert Box.objects.visible_to(keeper).count() == 1
    for user in (researcher, outsider, None):
        assert not Position.objects.visible_to(user).exists()
        assert not Box.objects.visible_to(user).exists()


def make_fonds():
    return Fonds.objects.create(code="J500", name="测试全宗")
