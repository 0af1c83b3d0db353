"""Fixtures for the borrowing tests: a small catalogue with every kind of record."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.choices import Classification, Role
from accounts.models import ReaderProfile, User
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, Position, ShelvingUnit, StoreRoom, Volume
from tests.conftest import make_persona


@pytest.fixture
def fonds(db):
    return Fonds.objects.create(code="J012", name="市档案局")


@pytest.fixture
def shelf(fonds):
    room = StoreRoom.objects.create(code="K01", name="一号库")
    unit = ShelvingUnit.objects.create(room=room, code="03", columns=1, sections=1, layers=3)
    positions = []
    for layer in (1, 2, 3):
        positions.append(
            Position.objects.create(
                room=room,
                unit=unit,
                column=1,
                section=1,
                layer=layer,
                code=Position.make_code("K01", "03", "A", 1, 1, layer),
                path=Position.make_path("K01", "03", "A", 1, 1, layer),
            )
        )
    return positions


@pytest.fixture
def records(fonds, shelf):
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")

    def make(code, status=AccessStatus.OPEN, level=Classification.NONE, position=None):
        return Item.objects.create(
            fonds=fonds,
            category=category,
            reference_code=code,
            title=f"关于{code}的通知",
            access_status=status,
            classification=level,
            position=position,
        )

    return {
        "open": make("J012-WS·2019-Y-BGS-0001", position=shelf[2]),
        "open2": make("J012-WS·2019-Y-BGS-0002", position=shelf[0]),
        "controlled": make("J012-WS·2019-Y-BGS-0003", AccessStatus.CONTROLLED, position=shelf[1]),
        "secret": make("J012-WS·2019-Y-BGS-0004", AccessStatus.CONTROLLED, Classification.SECRET),
        "top": make("J012-WS·2019-Y-BGS-0005", AccessStatus.CONTROLLED, Classification.TOP_SECRET),
        "volume": Volume.objects.create(
            fonds=fonds,
            category=category,
            reference_code="J012-WS-V0001",
            title="卷",
            access_status=AccessStatus.OPEN,
        ),
    }


@pytest.fixture
def staff_see_fonds(fonds):
    """Every staff role may see fonds J012 (up to their clearance)."""
    for role in (Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ARCHIVIST, Role.ADMINISTRATOR):
        grant("repository.view_fonds_records", role_group(role), fonds)


@pytest.fixture
def approver2(db) -> User:
    user = User.objects.create_user(
        username="approver2", password="x-pass-2026", clearance=Classification.CONFIDENTIAL
    )
    user.groups.set([role_group(Role.APPROVER)])
    return user


@pytest.fixture
def researcher2(db) -> User:
    return User.objects.create_user(username="researcher2", password="x-pass-2026")


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def make_request(today):
    """``make_request(user, [records], method=..., purpose=...)`` → a submitted request. A
    researcher's identity document is registered and marked as checked at the desk."""
    from borrowing import services

    def make(user, recs, method="reading", purpose="research", days=7, checked=True, **kwargs):
        identity = {}
        if not user.is_archive_staff:
            identity = {
                "id_document_type": "resident_id",
                "id_number": "110101199001061234",
                "id_document_expires": dt.date(2040, 1, 1),
            }
        if method == "copying":
            kwargs.setdefault("copy_pages", 3)
        req = services.create_access_request(
            acting_user=user,
            records=recs,
            method=method,
            purpose=purpose,
            date_from=today,
            date_to=today + dt.timedelta(days=days),
            **identity,
            **kwargs,
        )
        if checked:
            ReaderProfile.objects.filter(user=user).update(
                identity_checked_at=timezone.now(), identity_check_note="居民身份证"
            )
        return req

    return make


__all__ = ["make_persona"]
