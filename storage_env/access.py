"""Who may watch store-room climate, and fetching rooms/alarms for them (404 for both
missing and forbidden)."""

from __future__ import annotations

from django.core.exceptions import FieldError
from django.db.models import Q
from django.http import Http404

from repository.models import Item, StoreRoom, Volume
from storage_env.models import Alarm
from storage_env.roles import can_watch_climate


def access_room(user, pk: int) -> StoreRoom:
    if not can_watch_climate(user):
        raise Http404
    try:
        return StoreRoom.objects.get(pk=pk)
    except StoreRoom.DoesNotExist:
        raise Http404 from None


def access_alarm(user, pk: int) -> Alarm:
    try:
        return Alarm.objects.visible_to(user).select_related("sensor", "room").get(pk=pk)
    except Alarm.DoesNotExist:
        raise Http404 from None


def records_in_room(user, room: StoreRoom):
    """Volumes and items shelved in the room (directly or in a box there) that ``user`` may
    see; (volumes, items) querysets."""
    where = Q(position__room=room) | Q(box__position__room=room)
    try:
        volumes = Volume.objects.visible_to(user).filter(where)
        items = Item.objects.visible_to(user).filter(where)
        volumes.exists()  # fail here, not in the template, if the location fields move
    except FieldError:
        return Volume.objects.none(), Item.objects.none()
    return volumes, items
