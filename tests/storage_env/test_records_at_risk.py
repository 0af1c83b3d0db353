"""A room in alarm shows the volumes and items stored there (directly or in a box), as far as
the viewer may see them, with links to the catalogue."""

import pytest

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Box, Category, Fonds, Item, Position, ShelvingUnit, Volume
from storage_env import services
from storage_env.choices import AlarmRule

pytestmark = pytest.mark.django_db


def position_in(room, column):
    unit, _ = ShelvingUnit.objects.get_or_create(room=room, code="03")
    return Position.objects.create(
        room=room,
        unit=unit,
        column=column,
        section=1,
        layer=1,
        code=Position.make_code(room.code, "03", "A", column, 1, 1),
        path=Position.make_path(room.code, "03", "A", column, 1, 1),
    )


def test_room_page_lists_records_at_risk(keeper, client_for, room, sensor):
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    grant("repository.view_fonds_records", role_group(Role.KEEPER), fonds)
    shelf = position_in(room, 1)
    box = Box.objects.create(code="BOX-1", fonds=fonds, position=position_in(room, 2))
    common = dict(fonds=fonds, category=category, access_status=AccessStatus.OPEN)
    volume = Volume.objects.create(
        reference_code="J012-WS-V1", title="案卷一", **common, position=shelf
    )
    Item.objects.create(reference_code="J012-WS-I1", title="文件一", **common, box=box)
    Item.objects.create(
        reference_code="J012-WS-I2",
        title="机密文件",
        fonds=fonds,
        category=category,
        classification=Classification.CONFIDENTIAL,
        position=shelf,
    )
    services.raise_alarm(
        AlarmRule.HUMIDITY_HIGH, "sensor:TH-01", message="humidity", room_id=room.pk
    )
    page = client_for(keeper).get(f"/staff/climate/rooms/{room.pk}/").content.decode()
    assert "J012-WS-V1" in page and "J012-WS-I1" in page
    assert f"/staff/catalogue/volume/{volume.pk}/" in page
    assert "机密文件" not in page  # the keeper is not cleared for it
    assert "1 volumes and 1 items" in page or "案卷 1 卷、文件 1 件" in page
