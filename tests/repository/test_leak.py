"""The leak test: every persona, through every door, for every kind of record.

Doors: the staff list, staff record page, public category list, public record page, API list,
API detail, staff and public CSV / XLSX export, where-is (page and API), page images. A hidden
record is "not found" (404) exactly like a missing one, and its code never appears in a list.
"""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item, Volume

PERSONAS = [
    "public",
    "researcher",
    "front_desk",
    "keeper",
    "archivist_a",
    "approver_secret",
    "outsider",
    "admin",
]
STAFF = {"front_desk", "keeper", "archivist_a", "approver_secret", "admin"}


@pytest.fixture
def world(db):
    """Fonds A (the archivist group may see and change it) and fonds B (nobody); in each, a
    volume and an item for every access status × classification."""
    records = []
    for letter in "AB":
        fonds = Fonds.objects.create(code=f"J0{letter}", name=f"全宗{letter}")
        category = Category.objects.create(fonds=fonds, code="WS", name="文书")
        if letter == "A":
            grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), fonds)
            grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), fonds)
        for status in AccessStatus:
            for level in Classification:
                tag = f"{letter}{status.value[:4].upper()}{level.value}"
                volume = Volume.objects.create(
                    fonds=fonds,
                    category=category,
                    reference_code=f"V-{tag}",
                    title=f"卷{tag}",
                    access_status=status,
                    classification=level,
                    filing_year=1990,
                )
                item = Item.objects.create(
                    fonds=fonds,
                    category=category,
                    reference_code=f"I-{tag}",
                    title=f"件{tag}",
                    access_status=status,
                    classification=level,
                    filing_year=1990,
                )
                records += [volume, item]
    return records


def expected_visible(persona: str, record) -> bool:
    if record.access_status == AccessStatus.OPEN and record.classification == Classification.NONE:
        return True
    return persona == "archivist_a" and record.fonds.code == "J0A" and record.classification <= 1


def kind_of(record) -> str:
    return record._meta.model_name


def codes_in(text: str, records) -> set[str]:
    return {r.reference_code for r in records if r.reference_code in text}


@pytest.fixture
def client_as(personas, client_for):
    return lambda name: client_for(personas[name])


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_doors(world, client_as, persona):
    client = client_as(persona)
    for kind in ("volume", "item"):
        of_kind = [r for r in world if kind_of(r) == kind]
        expected = {r.reference_code for r in of_kind if expected_visible(persona, r)}
        # API list
        response = client.get(f"/api/v1/{kind}s/", {"size": 200})
        assert response.status_code == 200
        assert {row["reference_code"] for row in response.json()["results"]} == expected
        # public category lists
        seen = set()
        for fonds in ("J0A", "J0B"):
            url = reverse("repository:public-category", args=[fonds, "WS"])
            response = client.get(url, {"kind": kind, "size": 200})
            assert response.status_code == 200
            seen |= codes_in(response.content.decode(), of_kind)
        assert seen == expected
        # public CSV export
        response = client.get(reverse("repository:public-export", args=["csv"]), {"kind": kind})
        assert (
            codes_in(b"".join(response.streaming_content).decode("utf-8-sig"), of_kind) == expected
        )
        # staff list and exports
        staff_list = client.get(reverse("repository:staff-catalogue"), {"kind": kind, "size": 200})
        csv_export = client.get(reverse("repository:staff-export", args=["csv"]), {"kind": kind})
        xlsx_export = client.get(reverse("repository:staff-export", args=["xlsx"]), {"kind": kind})
        if persona not in STAFF:
            expected_status = 302 if persona == "public" else 404
            assert staff_list.status_code == csv_export.status_code == expected_status
            assert xlsx_export.status_code == expected_status
            continue
        assert codes_in(staff_list.content.decode(), of_kind) == expected
        text = b"".join(csv_export.streaming_content).decode("utf-8-sig")
        assert codes_in(text, of_kind) == expected
        sheet = load_workbook(io.BytesIO(xlsx_export.content), read_only=True).active
        cells = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert cells == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_doors(world, client_as, persona):
    client = client_as(persona)
    for record in world:
        kind = kind_of(record)
        visible = expected_visible(persona, record)
        api = client.get(f"/api/v1/{kind}s/{record.pk}/")
        public_page = client.get(reverse("repository:public-record", args=[kind, record.pk]))
        staff_page = client.get(reverse("repository:staff-record", args=[kind, record.pk]))
        where_api = client.get("/api/v1/where-is/", {"code": record.reference_code})
        where_page = client.get(
            reverse("repository:staff-where-is"), {"code": record.reference_code}
        )
        want = 200 if visible else 404
        assert api.status_code == want, (persona, record.reference_code)
        assert public_page.status_code == want
        if visible:
            assert record.title in public_page.content.decode()
        else:
            assert record.title not in public_page.content.decode()
        if persona in STAFF:
            assert staff_page.status_code == want
            assert where_api.status_code == want
            assert (record.title in where_page.content.decode()) == visible
        else:
            assert staff_page.status_code == (302 if persona == "public" else 404)
            assert where_api.status_code in (401, 403)
            assert where_page.status_code == (302 if persona == "public" else 404)


def test_missing_and_forbidden_look_the_same(world, client_as):
    client = client_as("researcher")
    hidden = next(r for r in world if not expected_visible("researcher", r))
    missing = client.get("/api/v1/items/999999/")
    forbidden = client.get(f"/api/v1/{kind_of(hidden)}s/{hidden.pk}/")
    assert missing.status_code == forbidden.status_code == 404
    assert missing.json() == forbidden.json()
