"""The database relay of live pushes (core/live.py) for the embedded default without Redis."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.services import notify_user
from core import live
from core.models import LiveEvent
from tests.config.test_websocket import connect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def via_database(settings):
    settings.LIVE_PUSH_VIA_DATABASE = True


async def test_pushes_travel_through_the_database_to_the_socket(via_database, front_desk, keeper):
    cookie = await sync_to_async(session_cookie)(front_desk)
    communicator, connected, _ = await connect("/ws/notifications/", cookie=cookie)
    assert connected
    await sync_to_async(notify_user)(keeper, "test.other", {"n": 0})
    await sync_to_async(notify_user)(front_desk, "test.mine", {"n": 1})
    assert await sync_to_async(LiveEvent.objects.count)() == 2  # written, not sent directly
    message = await communicator.receive_json_from(timeout=3)
    assert message == {"type": "test.mine", "payload": {"n": 1}}
    assert await communicator.receive_nothing(timeout=0.5)  # relayed once, not again
    await communicator.disconnect()


def test_a_rolled_back_change_pushes_nothing(via_database, front_desk):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        notify_user(front_desk, "test.never", {})
        raise RuntimeError("the change fails")
    assert LiveEvent.objects.count() == 0


def test_a_late_commit_is_relayed_once_and_old_events_are_pruned(via_database):
    relay = live.Relay(layer=None)
    now = timezone.now()
    LiveEvent.objects.create(group="g", event="e", payload={"i": 2}, created_at=now)
    assert [row[3] for row in relay.fetch()] == [{"i": 2}]
    relay.seen.update({row[0]: 0.0 for row in LiveEvent.objects.values_list("id", "group")})
    # a transaction that committed late: an id below one already relayed, still in the window
    late = LiveEvent.objects.create(group="g", event="e", payload={"i": 1}, created_at=now)
    LiveEvent.objects.filter(pk=late.pk).update(created_at=now - dt.timedelta(seconds=2))
    assert [row[3] for row in relay.fetch()] == [{"i": 1}]
    LiveEvent.objects.create(
        group="g", event="old", payload={}, created_at=now - dt.timedelta(hours=1)
    )
    relay.pruned_at = -1e9
    relay.fetch()
    assert not LiveEvent.objects.filter(event="old").exists()
