"""While the index is behind (issue 16): a change that narrows visibility drains before every
other pending change, and until it has, the search hides what the database no longer shows,
however long the backlog. On every backend."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from accounts.choices import Classification
from repository import services
from repository.choices import AccessStatus, OpeningDecision
from repository.models import Item
from search.freshness import hide_pending
from search.models import OutboxEntry
from search.outbox import enqueue
from search.query import SearchRequest, Visibility
from search.services import search_records, suggest_records
from search.sync import drain_once

PUBLIC = Visibility()
OLD_PENDING_LIMIT = 20_000  # what the freshness check used to read at most


def codes(result) -> list[str]:
    return [h.doc["reference_code"] for h in result.hits]


def ordinary_backlog(records, rows: int) -> None:
    """``rows`` pending ordinary edits (notes touched) of records that stay open."""
    entries = [
        OutboxEntry(model_label="repository.item", object_id=records[n % len(records)].pk)
        for n in range(rows)
    ]
    OutboxEntry.objects.bulk_create(entries, batch_size=2000)


def close(record, acting_user) -> None:
    services.decide_opening(
        record,
        OpeningDecision.CONTROLLED,
        acting_user=acting_user,
        reason="涉及个人隐私",
        next_review_on=dt.date.today() + dt.timedelta(days=365),
    )


# --- which rows narrow ----------------------------------------------------------------------
def test_the_record_knows_whether_a_change_narrowed_it(indexed):
    item = Item.objects.get(pk=indexed["code"].pk)  # open, unclassified
    item.title = "改名"
    assert not item.narrowed
    item.access_status = AccessStatus.CONTROLLED
    assert item.narrowed  # left the public
    secret = Item.objects.get(pk=indexed["secret_a"].pk)  # 秘密, not public
    secret.classification = Classification.CONFIDENTIAL
    assert secret.narrowed  # fewer staff are cleared for it
    secret = Item.objects.get(pk=indexed["confidential_a"].pk)  # 机密
    secret.classification = Classification.SECRET
    assert not secret.narrowed  # lowered: more may see it
    closed = Item.objects.get(pk=indexed["controlled"].pk)
    closed.fonds = indexed["fonds"]["B"]
    assert closed.narrowed  # staff of fonds A no longer see it
    fresh = Item(access_status=AccessStatus.CONTROLLED, classification=0)
    assert not fresh.narrowed  # never loaded: nothing was visible before


def test_services_mark_narrowing_rows_where_the_outbox_is_written(indexed, admin_user):
    OutboxEntry.objects.all().delete()
    item = indexed["code2"]
    services.update_record(item, {"title": "年度工作总结（修订）"}, acting_user=admin_user)
    assert list(OutboxEntry.objects.values_list("narrows", flat=True)) == [False]
    OutboxEntry.objects.all().delete()
    close(item, admin_user)
    assert list(OutboxEntry.objects.values_list("narrows", flat=True)) == [True]
    OutboxEntry.objects.all().delete()
    services.decide_opening(item, OpeningDecision.OPEN, acting_user=admin_user, reason="可开放")
    assert list(OutboxEntry.objects.values_list("narrows", flat=True)) == [False]  # widened
    OutboxEntry.objects.all().delete()
    enqueue(indexed["loan"], deleted=True)
    assert OutboxEntry.objects.get().narrows


def test_closing_a_volume_marks_its_items_too(indexed, admin_user):
    volume = indexed["volume"]
    inside = indexed["unrelated"]
    inside.volume = volume
    inside.save()
    OutboxEntry.objects.all().delete()
    close(volume, admin_user)
    rows = dict(OutboxEntry.objects.values_list("model_label", "narrows"))
    assert rows == {"repository.volume": True, "repository.item": True}


# --- 1. narrowing changes drain first -------------------------------------------------------
def test_a_narrowing_change_is_applied_in_the_first_batch(backend, indexed, admin_user):
    record = indexed["code"]  # 关于档案馆建设的请示, open
    others = [indexed[k] for k in ("code2", "contract", "loan", "unrelated", "open_b")]
    ordinary_backlog(others, 1200)  # a long queue of ordinary edits, written first
    close(record, admin_user)  # ... then one change that hides a record from the public
    assert OutboxEntry.objects.count() == 1201
    result = drain_once(backend=backend, batch_size=100)
    backend.refresh()
    assert result.taken == 100
    assert not OutboxEntry.objects.filter(object_id=record.pk).exists()
    raw = backend.search(SearchRequest(query="档案馆"), PUBLIC)  # the index, no freshness check
    assert record.reference_code not in codes(raw)
    assert OutboxEntry.objects.count() == 1101  # the ordinary edits wait their turn


def test_a_failing_narrowing_row_does_not_block_the_queue(backend, indexed, admin_user):
    """A narrowing row in backoff is not due: the ordinary rows behind it drain meanwhile."""
    close(indexed["code"], admin_user)
    OutboxEntry.objects.filter(narrows=True).update(
        next_attempt_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    )
    ordinary_backlog([indexed["code2"], indexed["loan"]], 30)
    assert drain_once(backend=backend).taken == 30
    assert list(OutboxEntry.objects.values_list("narrows", flat=True)) == [True]


# --- 2. the freshness filter has no cap -----------------------------------------------------
@pytest.mark.parametrize("narrowing", ["closed", "classified", "deleted"])
def test_a_narrowed_record_is_hidden_behind_any_backlog(
    backend, indexed, admin_user, narrowing, django_assert_max_num_queries
):
    """Stop the sync, queue more ordinary edits than the old limit read, then narrow one
    record: as the public, no result, total, facet or suggestion shows it."""
    from tests.search.conftest import sync

    sync(backend)
    record = indexed["code"]  # 关于档案馆建设的请示, open
    code, pk = record.reference_code, record.pk
    others = [indexed[k] for k in ("code2", "contract", "loan", "unrelated", "open_b")]
    ordinary_backlog(others, OLD_PENDING_LIMIT + 500)
    with transaction.atomic():
        if narrowing == "closed":
            close(record, admin_user)
        elif narrowing == "classified":
            record = Item.objects.get(pk=record.pk)
            record.classification = Classification.SECRET
            record.version += 1
            record.save()
            enqueue(record)
        else:
            enqueue(record, deleted=True)
            record.delete()
    assert OutboxEntry.objects.count() == OLD_PENDING_LIMIT + 501  # the sync is stopped
    assert code in codes(backend.search(SearchRequest(query="档案馆"), PUBLIC))  # index behind

    with django_assert_max_num_queries(6):  # whatever the backlog: one query per question
        hidden = hide_pending(Visibility(), None).hidden
    assert hidden == (f"item-{pk}",)  # only the narrowed record comes back

    found = search_records(None, SearchRequest(query="档案馆", facets=("fonds", "year")))
    assert codes(found) == [] and found.total == 0
    assert found.facets["fonds"] == [] and found.facets["year"] == []
    everything = search_records(None, SearchRequest(query="档案", facets=("access_status",)))
    assert code not in codes(everything)
    assert everything.total == 2  # 人事档案目录, 2019年文书档案汇编
    assert sum(b.count for b in everything.facets["access_status"]) == 2
    assert code not in {s.reference_code for s in suggest_records(None, "档案馆")}
    assert code not in {s.reference_code for s in suggest_records(None, "J012-WS·2019-Y")}
    # ordinary pending edits of records the public still sees hide nothing
    assert "J012-WS·2019-Y-BGS-0002" in codes(search_records(None, SearchRequest(query="年度")))


def test_staff_keep_what_they_still_may_see(backend, indexed, admin_user, archivist_a):
    """Closing hides a record from the public only: staff of its fonds still find it."""
    from accounts.choices import Role
    from accounts.permissions import grant, role_group

    grant("repository.view_fonds_records", role_group(Role.ARCHIVIST), indexed["fonds"]["A"])
    close(indexed["code"], admin_user)
    assert hide_pending(Visibility.for_user(archivist_a), archivist_a).hidden == ()
    staff = search_records(archivist_a, SearchRequest(query="档案馆"))
    assert codes(staff) == [indexed["code"].reference_code]
    assert codes(search_records(None, SearchRequest(query="档案馆"))) == []
