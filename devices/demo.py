"""Demo sensors: a temperature/humidity sensor per room, a surface and a leak sensor."""

from __future__ import annotations

from django.db import transaction

from devices.choices import SensorKind
from devices.models import Sensor
from repository.choices import RoomTemplate
from repository.models import StoreRoom

DEMO_ROOMS = [  # used only when the catalogue demo has not created any rooms
    ("K01", "一号纸质档案库", RoomTemplate.PAPER),
    ("K02", "二号纸质档案库", RoomTemplate.PAPER),
    ("K03", "特藏库", RoomTemplate.SPECIAL),
    ("K04", "音像磁带库", RoomTemplate.TAPE),
    ("K05", "胶片拷贝库", RoomTemplate.FILM_COPY),
    ("K06", "胶片母片库", RoomTemplate.FILM_MASTER),
    ("K07", "照片档案库", RoomTemplate.PHOTO),
    ("K08", "光盘库", RoomTemplate.OPTICAL),
]
# Demo sensors are due every minute (the registry's default): the demo history is written at
# that interval, so its data completeness is real; `make run`'s simulator publishing every few
# seconds only over-fills it.
DEMO_INTERVAL = 60


def demo_rooms() -> list[StoreRoom]:
    rooms = list(StoreRoom.objects.order_by("code"))
    if rooms:
        return rooms
    for code, name, template in DEMO_ROOMS:
        StoreRoom.objects.get_or_create(
            code=code, defaults={"name": name, "template": template, "building": "档案楼"}
        )
    return list(StoreRoom.objects.order_by("code"))


@transaction.atomic
def ensure_demo_sensors(count: int, *, interval: int = 60) -> int:
    """At least ``count`` climate sensors spread over the rooms; returns how many were new."""
    rooms = demo_rooms()
    created = 0
    for index in range(count):
        room = rooms[index % len(rooms)]
        number = index // len(rooms) + 1
        _, new = Sensor.objects.get_or_create(
            sensor_id=f"TH-{room.code}-{number:02d}",
            defaults={
                "room": room,
                "kind": SensorKind.CLIMATE,
                "interval_seconds": max(1, interval),
                "firmware": "1.4.2",
                "location_note": f"{number}号位置",
            },
        )
        created += new
    first = rooms[0]
    # A surface sensor (condensation risk) and a leak detector that reports once a day.
    for sensor_id, kind, every in (
        (f"SF-{first.code}-01", SensorKind.SURFACE, max(1, interval)),
        ("LK-01", SensorKind.LEAK, 86400),
    ):
        _, new = Sensor.objects.get_or_create(
            sensor_id=sensor_id,
            defaults={"room": first, "kind": kind, "interval_seconds": every},
        )
        created += new
    return created


def seed(*, records: int, out) -> None:
    # A climate sensor in every room (two in the busiest) and a surface sensor: the 12 that
    # `make run` simulates.
    created = ensure_demo_sensors(11, interval=DEMO_INTERVAL)
    out.write(f"  devices: {created} demo sensors registered")
