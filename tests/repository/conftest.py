"""Catalogue fixtures shared by the repository tests."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository import services
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, StoreRoom, Volume


@pytest.fixture
def fonds_a(db):
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    group = role_group(Role.ARCHIVIST)
    grant("repository.view_fonds_records", group, fonds)
    grant("repository.change_fonds_records", group, fonds)
    return fonds


@pytest.fixture
def fonds_b(db):
    return Fonds.objects.create(code="J099", name="其他全宗")


@pytest.fixture
def ws(fonds_a):
    return Category.objects.create(fonds=fonds_a, code="WS", name="文书")


@pytest.fixture
def ws_b(fonds_b):
    return Category.objects.create(fonds=fonds_b, code="WS", name="文书")


def make_item(category, n=1, *, year=2019, unit="BGS", **extra):
    defaults = dict(
        fonds=category.fonds,
        category=category,
        reference_code=f"{category.fonds.code}-{category.code}·{year}-Y-{unit}-{n:04d}",
        title=f"关于{year}年工作的通知 {n}",
        date_start=dt.date(year, 3, 1),
        date_end=dt.date(year, 3, 1),
        filing_year=year,
        access_status=AccessStatus.CONTROLLED,
        classification=Classification.NONE,
        org_unit=unit,
    )
    defaults.update(extra)
    return Item.objects.create(**defaults)


def make_volume(category, n=1, *, year=2019, **extra):
    defaults = dict(
        fonds=category.fonds,
        category=category,
        reference_code=f"{category.fonds.code}-{category.code}·{year}-Y-{n:04d}",
        title=f"{year}年文书案卷 {n}",
        filing_year=year,
        access_status=AccessStatus.CONTROLLED,
    )
    defaults.update(extra)
    return Volume.objects.create(**defaults)


@pytest.fixture
def room(db):
    return StoreRoom.objects.create(code="K01", name="一号库房")


@pytest.fixture
def unit(room):
    return services.create_shelving_unit(
        room,
        acting_user=None,
        code="03",
        columns=2,
        sections=2,
        layers=3,
        sides=2,
        position_capacity=2,
    )
