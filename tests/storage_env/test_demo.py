import io

import pytest

from repository.models import StoreRoom

pytestmark = pytest.mark.django_db


def test_demo_keeper_keeps_every_room_and_is_told_of_its_alarms():
    from accounts import demo as accounts_demo
    from repository import demo as repository_demo
    from storage_env import demo, services

    out = io.StringIO()
    accounts_demo.seed(records=0, out=out)
    repository_demo.seed(records=50, out=out)
    demo.seed(records=50, out=out)
    demo.seed(records=50, out=out)  # idempotent
    rooms = list(StoreRoom.objects.all())
    assert rooms
    for room in rooms:
        assert [u.username for u in room.keepers.all()] == ["keeper"]
        assert len(services.room_keepers(room.pk)) == 1
