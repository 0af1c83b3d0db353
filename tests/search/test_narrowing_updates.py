"""A change of who may see records reaches search before anything else, however it is written
(issue 16): ``QuerySet.update()`` of the record door's columns (``access_status``,
``classification``, ``fonds``, ``volume``) on volumes and items is refused unless it says
``narrows=True``, and then writes a narrowing outbox row per changed record; a volume's items
follow a change of the volume's door columns (their documents carry it), whether through the
opening-review service or a bulk update. Runs on every backend."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F

from accounts.choices import Classification
from accounts.permissions import grant
from repository import services
from repository.choices import AccessStatus, OpeningDecision
from repository.models import Item, Volume
from search.models import OutboxEntry
from search.outbox import enqueue
from search.query import SearchRequest, Visibility
from search.services import search_records
from tests.search.conftest import sync


def public_codes(query: str) -> set[str]:
    return {h.doc["reference_code"] for h in search_records(None, SearchRequest(query=query)).hits}


@pytest.mark.parametrize(
    "change",
    [
        {"access_status": AccessStatus.CONTROLLED},
        {"classification": Classification.SECRET},
        {"fonds_id": 0},
        {"fonds": None},
        {"volume": None},
        {"volume_id": None},
        {"title": "新题名", "access_status": AccessStatus.UNREVIEWED},
    ],
    ids=lambda change: ",".join(change),
)
def test_a_bulk_update_of_the_door_columns_without_narrows_is_refused(catalogue, change):
    OutboxEntry.objects.all().delete()
    with pytest.raises(TypeError, match="narrows=True"):
        Item.objects.filter(pk=catalogue["loan"].pk).update(**change)
    with pytest.raises(TypeError, match="narrows=True"):
        catalogue["volume"].items.update(**change)  # related managers too
    assert Item.objects.get(pk=catalogue["loan"].pk).access_status == AccessStatus.OPEN
    assert not OutboxEntry.objects.exists()


def test_bulk_update_of_the_door_columns_is_refused_too(catalogue):
    item = catalogue["loan"]
    item.access_status = AccessStatus.CONTROLLED
    with pytest.raises(TypeError, match="access_status"):
        Item.objects.bulk_update([item], ["access_status"])
    assert Item.objects.get(pk=item.pk).access_status == AccessStatus.OPEN


def test_other_bulk_updates_are_as_before(catalogue):
    OutboxEntry.objects.all().delete()
    item = catalogue["loan"]
    assert Item.objects.filter(pk=item.pk).update(notes="补充附注", version=F("version")) == 1
    assert not OutboxEntry.objects.exists()  # as ever: not the search path


def test_a_narrowing_bulk_update_reaches_search_first(backend, indexed):
    records = [indexed["loan"], indexed["code2"]]
    versions = {r.pk: r.version for r in records}
    OutboxEntry.objects.all().delete()
    assert {"J012-WS·2020-D30-BGS-0003"} <= public_codes("借阅制度")
    changed = Item.objects.filter(pk__in=versions).update(
        access_status=AccessStatus.CONTROLLED, narrows=True
    )
    assert changed == 2
    for item in Item.objects.filter(pk__in=versions):
        assert item.access_status == AccessStatus.CONTROLLED
        assert item.version == versions[item.pk] + 1
    rows = OutboxEntry.objects.order_by("object_id")
    assert [(r.object_id, r.narrows) for r in rows] == [(pk, True) for pk in sorted(versions)]
    assert public_codes("借阅制度") == set()  # hidden while the index is behind
    sync(backend)
    assert public_codes("借阅制度") == set() and public_codes("年度工作总结") == set()


@pytest.fixture
def volume_with_item(indexed, backend):
    """The open item 借阅制度修订 placed in the open volume, indexed."""
    volume, item = indexed["volume"], indexed["loan"]
    Item.objects.filter(pk=item.pk).update(volume=volume, narrows=True)
    item.refresh_from_db()
    sync(backend)
    assert item.reference_code in public_codes("借阅制度")
    return volume, item


def test_closing_a_volume_takes_its_items_out_of_public_search(
    backend, volume_with_item, admin_user
):
    """Before: the volume's items were queued with their own (unchanged) versions, and the
    index skipped them as stale: after the drain the public still found them."""
    volume, item = volume_with_item
    volume.refresh_from_db()
    services.decide_opening(
        volume,
        OpeningDecision.CONTROLLED,
        acting_user=admin_user,
        reason="撤回开放",
        next_review_on=dt.date(2030, 1, 1),
    )
    row = OutboxEntry.objects.get(model_label="repository.item", object_id=item.pk)
    assert row.narrows and row.force
    assert item.reference_code not in public_codes("借阅制度")
    sync(backend)
    assert item.reference_code not in public_codes("借阅制度")


def test_a_bulk_update_of_volumes_brings_their_items_along(backend, volume_with_item):
    volume, item = volume_with_item
    OutboxEntry.objects.all().delete()
    Volume.objects.filter(pk=volume.pk).update(access_status=AccessStatus.CONTROLLED, narrows=True)
    sync(backend)
    assert item.reference_code not in public_codes("借阅制度")
    assert volume.reference_code not in public_codes("文书档案汇编")


def test_opening_a_volume_brings_its_items_back(backend, volume_with_item, admin_user):
    volume, item = volume_with_item
    Volume.objects.filter(pk=volume.pk).update(access_status=AccessStatus.CONTROLLED, narrows=True)
    sync(backend)
    volume.refresh_from_db()
    services.decide_opening(volume, OpeningDecision.OPEN, acting_user=admin_user, reason="到期开放")
    row = OutboxEntry.objects.get(model_label="repository.item", object_id=item.pk)
    assert row.force and not row.narrows
    sync(backend)
    assert item.reference_code in public_codes("借阅制度")


def test_an_ordinary_edit_of_a_volume_does_not_requeue_its_items(catalogue):
    volume = catalogue["volume"]
    Item.objects.filter(pk=catalogue["loan"].pk).update(volume=volume, narrows=True)
    OutboxEntry.objects.all().delete()
    volume.refresh_from_db()
    volume.title = "2019年文书档案汇编（修订）"
    volume.save()
    enqueue(volume)
    assert list(OutboxEntry.objects.values_list("model_label", flat=True)) == ["repository.volume"]


def staff_codes(user, query: str, backend=None) -> set[str]:
    """What ``user`` finds: through the service (the index, and what is pending hidden), or
    with ``backend`` the index alone."""
    request = SearchRequest(query=query)
    if backend is None:
        return {h.doc["reference_code"] for h in search_records(user, request).hits}
    return {
        h.doc["reference_code"] for h in backend.search(request, Visibility.for_user(user)).hits
    }


def test_classifying_a_volume_takes_its_items_from_staff_cleared_below_it(
    backend, volume_with_item, front_desk, approver_secret
):
    """Its items' documents carry the volume's 密级 (the door's volume rule): raising it queues
    them force-rewritten and narrowing (applied first, hidden at once while pending);
    declassifying the volume brings them back."""
    volume, item = volume_with_item
    for user in (front_desk, approver_secret):  # 非密 and 机密, both on fonds A
        grant("repository.view_fonds_records", user, volume.fonds)
    Volume.objects.filter(pk=volume.pk).update(access_status=AccessStatus.CONTROLLED, narrows=True)
    sync(backend)
    assert item.reference_code in staff_codes(front_desk, "借阅制度", backend)
    OutboxEntry.objects.all().delete()
    volume.refresh_from_db()
    services.update_record(volume, {"classification": Classification.SECRET}, acting_user=None)
    row = OutboxEntry.objects.get(model_label="repository.item", object_id=item.pk)
    assert row.narrows and row.force
    assert item.reference_code not in staff_codes(front_desk, "借阅制度")  # pending: hidden
    sync(backend)
    assert item.reference_code not in staff_codes(front_desk, "借阅制度", backend)
    assert item.reference_code not in staff_codes(front_desk, item.reference_code, backend)
    assert item.reference_code in staff_codes(approver_secret, "借阅制度", backend)
    volume.refresh_from_db()
    services.declassify_record(
        volume,
        to_level=Classification.NONE,
        basis="保密期限届满",
        authority="市档案局",
        decided_on=dt.date(2026, 1, 5),
        acting_user=None,
    )
    row = OutboxEntry.objects.get(model_label="repository.item", object_id=item.pk)
    assert row.force and not row.narrows
    sync(backend)
    assert item.reference_code in staff_codes(front_desk, "借阅制度", backend)
