"""The public catalogue export (anonymous, researchers) has no internal location data; the
staff export keeps the shelf position."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, Position, ShelvingUnit, StoreRoom

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelved_open_item():
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    room = StoreRoom.objects.create(code="K01", name="一号库")
    unit = ShelvingUnit.objects.create(room=room, code="03")
    position = Position.objects.create(
        room=room,
        unit=unit,
        column=1,
        section=1,
        layer=1,
        code=Position.make_code("K01", "03", "A", 1, 1, 1),
        path=Position.make_path("K01", "03", "A", 1, 1, 1),
    )
    return Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J012-WS·2019-Y-BGS-0001",
        title="关于档案馆建设的通知",
        access_status=AccessStatus.OPEN,
        position=position,
    )


def test_anonymous_export_has_no_shelf_position(client, shelved_open_item):
    code = shelved_open_item.position.code
    url = reverse("repository:public-export", args=["csv"])
    text = b"".join(client.get(url, {"kind": "item"}).streaming_content).decode("utf-8-sig")
    assert shelved_open_item.reference_code in text
    assert code not in text
    assert "位置" not in text.splitlines()[0] and "position" not in text.splitlines()[0]
    response = client.get(reverse("repository:public-export", args=["xlsx"]), {"kind": "item"})
    rows = list(
        load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(
            values_only=True
        )
    )
    assert rows[1][0] == shelved_open_item.reference_code
    assert code not in {cell for row in rows for cell in row}


def test_staff_export_keeps_the_shelf_position(client_for, archivist_a, shelved_open_item):
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), shelved_open_item.fonds)
    client = client_for(archivist_a)
    url = reverse("repository:staff-export", args=["csv"])
    text = b"".join(client.get(url, {"kind": "item"}).streaming_content).decode("utf-8-sig")
    assert shelved_open_item.position.code in text
