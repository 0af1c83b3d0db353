"""Issue 13 leak test: items inside volumes, partial openings (and, with bullet 5, tombstones)
through every door — the record API (list, detail, pages), the public pages (record, category
list, export), search (database backend, through the outbox like production) and the borrowing
request door (``hidden_from``).

The oracle is written out here, independently of ``repository.querysets``: the public sees an
item only if it is open or open in part, unclassified, and its volume (if any) is too."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.choices import Role
from accounts.permissions import grant, role_group
from core.outbox import enqueue_many
from repository import images, services
from repository.choices import OpeningDecision
from repository.models import Category, Fonds, Item, Volume
from search.backends import use_backend
from search.backends.database import DatabaseSearchBackend
from search.query import SearchRequest, Visibility
from search.sync import drain_once

OPENISH = {"open", "partial"}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 40), "white").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def mixed(db, settings, tmp_path, personas):
    """Fonds J0M: volumes in each status × 密级 of interest, each holding items in each status
    (items never above their volume's 密级); one item opened in part with page 2 withheld."""
    settings.MEDIA_ROOT = tmp_path
    fonds = Fonds.objects.create(code="J0M", name="混合全宗")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), fonds)
    grant("repository.change_fonds_records", role_group(Role.ARCHIVIST), fonds)
    common = dict(fonds=fonds, category=category, filing_year=1990, retention="Y")
    volumes, items = [], []
    n = 0
    for v_status in ("open", "controlled", "unreviewed", "partial"):
        for v_level in (0, 1):
            if v_status in OPENISH and v_level:
                continue  # a classified record is never open
            n += 1
            volume = Volume.objects.create(
                reference_code=f"J0M-V{n:02d}",
                title=f"案卷标题{n:02d}号",
                access_status=v_status,
                classification=v_level,
                **common,
            )
            volumes.append(volume)
            for i_status in ("open", "controlled", "partial"):
                for i_level in range(v_level + 1):
                    if i_status in OPENISH and i_level:
                        continue
                    items.append(
                        Item.objects.create(
                            reference_code=f"{volume.reference_code}-{i_status}-{i_level}",
                            title=f"卷内文件{volume.pk}{i_status}{i_level}题名",
                            access_status=i_status,
                            classification=i_level,
                            volume=volume,
                            pages=3,
                            **common,
                        )
                    )
    loose = Item.objects.create(reference_code="J0M-LOOSE", title="散件部分开放", pages=3, **common)
    services.decide_opening(
        loose, OpeningDecision.PARTIAL, acting_user=None, reason="r", withheld_pages=[2]
    )
    loose.refresh_from_db()
    for p in (1, 2, 3):
        images.add_digital_page(
            loose, SimpleUploadedFile("p.jpg", _jpeg()), acting_user=None, page_number=p
        )
    items.append(loose)
    return {"fonds": fonds, "volumes": volumes, "items": items, "loose": loose}


def public_sees(record) -> bool:
    def own(r):
        return r.access_status in OPENISH and r.classification == 0

    volume = getattr(record, "volume", None)
    return own(record) and (volume is None or own(volume))


@pytest.mark.parametrize("persona", ["public", "researcher", "outsider", "keeper"])
def test_items_in_volumes_through_every_door(mixed, personas, client_for, persona):
    user = personas[persona]
    client = client_for(user)
    records = mixed["volumes"] + mixed["items"]
    expected = {r.reference_code for r in records if public_sees(r)}
    # the one door agrees with the oracle
    door = {r.reference_code for r in Item.objects.visible_to(user)} | {
        r.reference_code for r in Volume.objects.visible_to(user)
    }
    assert door == expected
    hidden = {r.reference_code for r in Item.objects.hidden_from(user)} | {
        r.reference_code for r in Volume.objects.hidden_from(user)
    }
    assert hidden == {r.reference_code for r in records} - expected
    # API lists and details, public pages
    for kind, model in (("item", Item), ("volume", Volume)):
        listed = client.get(f"/api/v1/{kind}s/", {"size": 200}).json()["results"]
        assert {row["reference_code"] for row in listed} == {
            r.reference_code for r in records if isinstance(r, model) and public_sees(r)
        }
        export = client.get(reverse("repository:public-export", args=["csv"]), {"kind": kind})
        text = b"".join(export.streaming_content).decode("utf-8-sig")
        category = client.get(
            reverse("repository:public-category", args=["J0M", "WS"]), {"kind": kind, "size": 200}
        ).content.decode()
        for r in records:
            if not isinstance(r, model):
                continue
            cache.clear()  # the anonymous throttle is not under test here
            want = 200 if public_sees(r) else 404
            assert client.get(f"/api/v1/{kind}s/{r.pk}/").status_code == want, r.reference_code
            page = client.get(reverse("repository:public-record", args=[kind, r.pk]))
            assert page.status_code == want, r.reference_code
            assert (r.reference_code in text) == public_sees(r)
            assert (r.title in category) == public_sees(r)
    # pages of the partial opening: released only
    loose = mixed["loose"]
    pages = client.get(f"/api/v1/items/{loose.pk}/pages/").json()
    assert [p["page_number"] for p in pages] == [1, 3]
    withheld = loose.pages_digitised.get(page_number=2)
    assert withheld.withheld
    url = reverse("repository:page-image", args=[withheld.pk, "web"])
    assert client.get(url).status_code == 404


def test_search_follows_the_volume_rule(mixed, personas):
    engine = DatabaseSearchBackend()
    engine.setup()
    enqueue_many(mixed["volumes"] + mixed["items"])  # created with the ORM: index them all
    with use_backend(engine):
        while drain_once(backend=engine).taken:
            pass
        engine.refresh()
        for persona in ("public", "researcher", "keeper"):
            user = personas[persona]
            result = engine.search(SearchRequest(size=200), Visibility.for_user(user))
            found = {h.doc["reference_code"] for h in result.hits}
            expected = {
                r.reference_code for r in mixed["volumes"] + mixed["items"] if public_sees(r)
            }
            assert found == expected, persona
    engine.clear()


def test_a_tombstone_is_behind_every_door_but_the_audit_trail(db, personas, client_for, settings):
    """A destroyed record is gone from the API, the pages, the exports and search for every
    persona (its reference code stays taken); the audit trail names it."""
    import datetime as dt

    from accounts.models import AuditLog
    from repository.choices import AppraisalDecision
    from repository.models import Tombstone

    fonds = Fonds.objects.create(code="J0T", name="销毁全宗")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    record = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J0T-WS·2000-D10-0001",
        title="已销毁文件题名",
        filing_year=2000,
        retention="D10",
        access_status="open",
    )
    pk, code = record.pk, record.reference_code
    enqueue_many([record])
    appraisal = services.appraise_record(
        record,
        AppraisalDecision.DESTROY,
        opinion="无保存价值",
        appraisers="甲、乙",
        acting_user=None,
    )
    services.destroy_records(
        [appraisal],
        supervisors=[personas["keeper"], personas["front_desk"]],
        method="粉碎",
        place="销毁室",
        destroyed_on=dt.date.today(),
        acting_user=None,
    )
    engine = DatabaseSearchBackend()
    engine.setup()
    with use_backend(engine):
        while drain_once(backend=engine).taken:
            pass
        engine.refresh()
        for name, user in personas.items():
            client = client_for(user)
            cache.clear()
            assert client.get(f"/api/v1/items/{pk}/").status_code == 404, name
            assert (
                client.get(reverse("repository:public-record", args=["item", pk])).status_code
                == 404
            )
            export = client.get(reverse("repository:public-export", args=["csv"]), {"kind": "item"})
            assert code not in b"".join(export.streaming_content).decode("utf-8-sig")
            result = engine.search(
                SearchRequest(query="已销毁", size=50), Visibility.for_user(user)
            )
            assert code not in {h.doc["reference_code"] for h in result.hits}, name
    engine.clear()
    tomb = Tombstone.objects.get(reference_code=code)
    assert AuditLog.objects.filter(
        action="repository.item.destroyed", object_id=str(tomb.pk)
    ).exists()
    with pytest.raises(Exception):  # noqa: B017 — the code stays taken by the tombstone
        Tombstone.objects.create(
            kind="item",
            record_id=0,
            fonds=fonds,
            reference_code=code,
            title="x",
            retention="D10",
            appraisal=appraisal,
            destruction=tomb.destruction,
            destruction_note="x",
        )


def test_a_destroyed_records_code_is_never_given_again(db, keeper, front_desk):
    import datetime as dt

    from django.core.exceptions import ValidationError

    from repository.choices import AppraisalDecision

    fonds = Fonds.objects.create(code="J0R", name="全宗R")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    record = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J0R-WS·2000-D10-BGS-0001",
        title="旧文件",
        filing_year=2000,
        retention="D10",
        org_unit="BGS",
    )
    appraisal = services.appraise_record(
        record,
        AppraisalDecision.DESTROY,
        opinion="无保存价值",
        appraisers="甲、乙",
        acting_user=None,
    )
    services.destroy_records(
        [appraisal],
        supervisors=[keeper, front_desk],
        method="粉碎",
        place="室",
        destroyed_on=dt.date.today(),
        acting_user=None,
    )
    with pytest.raises(ValidationError, match="destroyed record|已销毁"):
        services.create_record(
            "item",
            {
                "fonds": fonds,
                "category": category,
                "title": "新文件",
                "date": "2000",
                "creator": "某市档案局",
                "retention": "D10",
                "org_unit": "BGS",
                "reference_code": "J0R-WS·2000-D10-BGS-0001",
            },
            acting_user=None,
        )
    fresh = services.create_record(
        "item",
        {
            "fonds": fonds,
            "category": category,
            "title": "新文件",
            "date": "2000",
            "creator": "某市档案局",
            "retention": "D10",
            "org_unit": "BGS",
        },
        acting_user=None,
    )
    assert fresh.reference_code != "J0R-WS·2000-D10-BGS-0001"
