"""The demo seeder: realistic, idempotent, every record placed, codes valid."""

import io

import pytest

from accounts.choices import Role
from accounts.permissions import role_group
from repository import codes, demo
from repository.models import Box, Fonds, Item, Volume
from search.models import OutboxEntry

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_places_every_record():
    out = io.StringIO()
    demo.seed(records=500, out=out)
    volumes, items = Volume.objects.count(), Item.objects.count()
    assert volumes + items == 500
    assert volumes == 500 // demo.VOLUME_SHARE
    assert not Volume.objects.filter(position__isnull=True).exists()
    assert not Item.objects.filter(position__isnull=True).exists()
    # Only the boxed volumes changed after the bulk load (the search index is built afterwards).
    boxed = Volume.objects.filter(box__isnull=False)
    assert {e.object_id for e in OutboxEntry.objects.filter(model_label="repository.volume")} == {
        v.pk for v in boxed
    }
    demo.seed(records=500, out=out)
    assert Volume.objects.count() + Item.objects.count() == 500
    demo.seed(records=700, out=out)
    assert Volume.objects.count() + Item.objects.count() == 700
    assert Fonds.objects.count() == len(demo.FONDS)


def test_seed_boxes_the_first_volumes_of_each_fonds_where_they_stood():
    demo.seed(records=500, out=io.StringIO())
    boxes = list(Box.objects.select_related("fonds", "position"))
    assert len({box.fonds_id for box in boxes}) == len(demo.FONDS)
    assert len(boxes) <= demo.BOXES_PER_FONDS * len(demo.FONDS)
    for box in boxes:
        volumes = list(Volume.objects.filter(box=box))
        assert 1 <= len(volumes) <= demo.VOLUMES_PER_BOX
        assert {v.carrier for v in volumes} == {"paper"}
        assert {v.fonds_id for v in volumes} == {box.fonds_id}
        assert {v.position_id for v in volumes} == {box.position_id}
        assert box.moves.exists() and box.code.startswith(box.fonds.code + "-H-")
    demo.seed(records=500, out=io.StringIO())
    assert Box.objects.count() == len(boxes)  # idempotent


def test_seeded_codes_follow_their_fonds_pattern():
    demo.seed(records=300, out=io.StringIO())
    for item in Item.objects.select_related("fonds", "category", "volume")[:100]:
        template = codes.template_for(item.fonds, "item", in_volume=item.volume_id is not None)
        expected = {"volume_code": item.volume.reference_code} if item.volume_id else {}
        codes.validate_code(item.reference_code, template, expected)
    statuses = set(Item.objects.values_list("access_status", flat=True))
    assert {"open", "unreviewed"} <= statuses
    assert all("\u4e00" <= ch <= "\u9fff" for ch in Item.objects.first().title[:2])


def test_demo_archivist_group_may_change_every_fonds():
    demo.seed(records=50, out=io.StringIO())
    group = role_group(Role.ARCHIVIST)
    for fonds in Fonds.objects.all():
        assert fonds.fondsgroupobjectpermission_set.filter(group=group).count() == 2
