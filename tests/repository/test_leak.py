"""The leak test: every persona, through every door, for every kind of record.

Doors: the staff list, staff record page, public category list, public record page, API list,
API detail, staff and public CSV / XLSX export, where-is (page and API), page images. A hidden
record is "not found" (404) exactly like a missing one, and its code never appears in a list.
"""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook

from accounts.choices import Classification, Role
from accounts.permissions import grant, role_group
from repository.choices import PUBLIC_STATUSES, AccessStatus
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
    if record.access_status in PUBLIC_STATUSES and record.classification == Classification.NONE:
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
        sheet = load_workbook(io.BytesIO(xlsx_export.getvalue()), read_only=True).active
        cells = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert cells == expected


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_doors(world, client_as, persona):
    client = client_as(persona)
    for record in world:
        # The world (now with 部分开放) asks more than the anonymous API throttle allows a minute;
        # the throttle is not what this test checks.
        cache.clear()
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


# --- writes: what the writer may not see stays unseen -----------------------------------------


@pytest.fixture
def hidden_world(db):
    """Fonds J0W, which the archivist group may see and change (archivist_a is cleared to
    秘密): a visible volume with a 绝密 item inside, an invisible 机密 volume, a visible volume
    holding only a 机密 item, and loose items (one 机密, one visible)."""
    fonds = Fonds.objects.create(code="J0W", name="全宗W")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), fonds)
    grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), fonds)
    common = dict(fonds=fonds, category=category, filing_year=2001, retention="Y")

    def volume(n, level):
        return Volume.objects.create(
            reference_code=f"J0W-WS·2001-Y-{n:04d}",
            title=f"案卷{n}机密标题",
            access_status=AccessStatus.CONTROLLED,
            classification=level,
            **common,
        )

    def item(code, level, in_volume=None, **extra):
        return Item.objects.create(
            reference_code=code,
            title=f"文件{code}机密标题",
            access_status=AccessStatus.CONTROLLED,
            classification=level,
            volume=in_volume,
            org_unit="BGS",
            **common,
            **extra,
        )

    visible = volume(1, Classification.NONE)
    hidden_volume = volume(2, Classification.CONFIDENTIAL)
    only_hidden = volume(3, Classification.NONE)
    return {
        "fonds": fonds,
        "category": category,
        "visible": visible,
        "top_child": item(f"{visible.reference_code}-001", Classification.TOP_SECRET, visible),
        "hidden_volume": hidden_volume,
        "only_hidden": only_hidden,
        "hidden_child": item(
            f"{only_hidden.reference_code}-001", Classification.CONFIDENTIAL, only_hidden
        ),
        "hidden_item": item("J0W-WS·2001-Y-BGS-0005", Classification.CONFIDENTIAL),
        "open_item": item("J0W-WS·2001-Y-BGS-0006", Classification.NONE),
    }


def _item_payload(world, **extra):
    return {
        "fonds": world["fonds"].pk,
        "category": world["category"].pk,
        "title": "新文件",
        "creator": "某局",
        "date": "2001-03",
        "retention": "Y",
        "filing_year": 2001,
        "org_unit": "BGS",
        "access_status": "unreviewed",
        **extra,
    }


def test_an_item_cannot_be_created_inside_an_invisible_volume(
    hidden_world, archivist_a, client_for
):
    """The probe: a 秘密 archivist created an item inside an invisible 机密 volume (201, and the
    generated code showed the volume's). Now the volume is "no such volume", exactly like an id
    that names nothing, and nothing is written."""
    client = client_for(archivist_a)
    before = Item.objects.count()
    hidden = hidden_world["hidden_volume"]
    response = client.post(
        "/api/v1/items/",
        _item_payload(hidden_world, volume=hidden.pk),
        content_type="application/json",
    )
    ghost = client.post(
        "/api/v1/items/",
        _item_payload(hidden_world, volume=999999),
        content_type="application/json",
    )
    assert response.status_code == ghost.status_code == 400
    assert response.json() == ghost.json()
    assert hidden.reference_code not in response.content.decode()
    assert Item.objects.count() == before
    visible = hidden_world["visible"]
    ok = client.post(
        "/api/v1/items/",
        _item_payload(hidden_world, volume=visible.pk),
        content_type="application/json",
    )
    assert ok.status_code == 201 and ok.json()["reference_code"].startswith(visible.reference_code)


def test_a_code_taken_by_an_invisible_record_is_refused_without_confirming_it(
    hidden_world, archivist_a, client_for
):
    client = client_for(archivist_a)
    hidden, visible = hidden_world["hidden_item"], hidden_world["open_item"]
    refused = client.post(
        "/api/v1/items/",
        _item_payload(hidden_world, reference_code=hidden.reference_code),
        content_type="application/json",
    )
    text = refused.content.decode()
    assert refused.status_code == 400
    assert "已被其他条目使用" not in text and "already used" not in text
    assert hidden.title not in text
    told = client.post(
        "/api/v1/items/",
        _item_payload(hidden_world, reference_code=visible.reference_code),
        content_type="application/json",
    )
    assert told.status_code == 400 and "已被其他条目使用" in told.content.decode()


def test_renumbering_never_changes_a_record_the_user_cannot_see(
    hidden_world, archivist_a, client_for
):
    """The probe: renumbering a visible volume silently renumbered its 绝密 item. Now it is
    refused whole, with a message that names no hidden record; nothing changes."""
    volume, child = hidden_world["visible"], hidden_world["top_child"]
    old_volume, old_child = volume.reference_code, child.reference_code
    response = client_for(archivist_a).post(
        f"/api/v1/volumes/{volume.pk}/renumber/",
        {"new_code": "J0W-WS·2001-Y-0009", "reason": "整理"},
        content_type="application/json",
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert (
        old_child not in text and "J0W-WS·2001-Y-0009-001" not in text and child.title not in text
    )
    volume.refresh_from_db()
    child.refresh_from_db()
    assert (volume.reference_code, child.reference_code) == (old_volume, old_child)


def test_a_volume_holding_only_invisible_items_is_not_deleted_and_they_are_not_confirmed(
    hidden_world, archivist_a, client_for
):
    volume = hidden_world["only_hidden"]
    response = client_for(archivist_a).delete(f"/api/v1/volumes/{volume.pk}/")
    text = response.content.decode()
    assert response.status_code == 400
    assert "仍有文件" not in text and "still holds" not in text
    assert hidden_world["hidden_child"].reference_code not in text
    assert Volume.objects.filter(pk=volume.pk).exists()


def test_boxing_an_item_names_its_volume_only_when_visible(hidden_world, archivist_a):
    """An item inside an invisible volume is itself invisible now (the record door composes
    the volume rule): the refusal reads like a missing code and does not name the volume."""
    from django.core.exceptions import ValidationError

    from repository import boxes

    item = Item.objects.create(
        fonds=hidden_world["fonds"],
        category=hidden_world["category"],
        reference_code=f"{hidden_world['hidden_volume'].reference_code}-002",
        title="可见文件",
        access_status=AccessStatus.CONTROLLED,
        volume=hidden_world["hidden_volume"],
        filing_year=2001,
        retention="Y",
    )
    box = boxes.create_box(acting_user=archivist_a, code="J0W-H-0001", fonds=hidden_world["fonds"])
    with pytest.raises(ValidationError) as exc:
        boxes.put_in_box([item.reference_code], box, acting_user=archivist_a)
    text = " ".join(exc.value.messages)
    assert not Item.objects.visible_to(archivist_a).filter(pk=item.pk).exists()
    assert hidden_world["hidden_volume"].reference_code not in text.replace(item.reference_code, "")


def test_an_import_treats_invisible_volumes_and_codes_like_missing_ones(hidden_world, archivist_a):
    """The importer uses the same door: a row naming an invisible volume reads like one naming
    no volume, and a code held by an invisible record is refused without confirming it."""
    from repository.imports import import_catalogue

    hidden_volume = hidden_world["hidden_volume"].reference_code
    header = (
        "责任者,全宗号,门类代码,档号,题名,日期,保管期限,开放标识,机构（问题）,归档年度,案卷档号\n"
    )
    rows = [
        f"某局,J0W,WS,,在隐藏案卷中,2001-03,永久,控制使用,BGS,2001,{hidden_volume}",
        "某局,J0W,WS,,在不存在的案卷中,2001-03,永久,控制使用,BGS,2001,J0W-WS·2001-Y-0777",
        f"某局,J0W,WS,{hidden_world['hidden_item'].reference_code},撞号,2001-03,永久,控制使用,BGS,2001,",
        f"某局,J0W,WS,{hidden_world['open_item'].reference_code},撞号,2001-03,永久,控制使用,BGS,2001,",
    ]
    data = (header + "\n".join(rows) + "\n").encode("utf-8")
    report = import_catalogue(data, "list.csv", acting_user=archivist_a, dry_run=True)
    reasons = {error.row: error.reason for error in report.errors}
    assert reasons[2] == reasons[3].replace("J0W-WS·2001-Y-0777", hidden_volume)
    assert "已被其他条目使用" not in reasons[4] and "已被其他条目使用" in reasons[5]


def test_the_api_names_an_items_volume_only_through_the_volume_door(hidden_world, client_for):
    """An open item inside a volume the caller may not see is hidden with its volume (the
    record door composes the volume's own check, issue 13): absent from the detail, the list
    and a write — so neither the item nor the volume's id confirm the hidden volume; a caller
    who sees the volume gets its id."""
    from accounts.models import User

    hidden = hidden_world["hidden_volume"]
    item = Item.objects.create(
        fonds=hidden_world["fonds"],
        category=hidden_world["category"],
        reference_code=f"{hidden.reference_code}-009",
        title="开放文件",
        creator="某市档案局",
        access_status=AccessStatus.OPEN,
        volume=hidden,
        filing_year=2001,
        retention="Y",
    )
    public = client_for(None)
    assert public.get(f"/api/v1/items/{item.pk}/").status_code == 404
    rows = public.get("/api/v1/items/?size=200").json()["results"]
    assert [r for r in rows if r["id"] == item.pk] == []
    cleared = User.objects.create_superuser("root", "r@example.org", "x", clearance=3)
    assert client_for(cleared).get(f"/api/v1/items/{item.pk}/").json()["volume_id"] == hidden.pk
    writer = User.objects.create_superuser("root1", "r1@example.org", "x", clearance=1)
    answer = client_for(writer).patch(
        f"/api/v1/items/{item.pk}/",
        {"keywords": "k", "date": "2001"},
        content_type="application/json",
    )
    assert answer.status_code == 404
    assert str(hidden.pk) not in answer.content.decode() and hidden.reference_code not in (
        answer.content.decode()
    )
