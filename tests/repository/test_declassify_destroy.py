"""Issue 13, bullets 4–5: 解密 and 保密期限; 鉴定与销毁 instead of delete."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from accounts.choices import Classification
from accounts.models import AuditLog
from repository import services
from repository.choices import AccessStatus, AppraisalDecision, OpeningDecision, SecrecyPeriodKind
from repository.models import Declassification, Item, Tombstone, Volume
from search.documents import iter_documents
from tests.repository.conftest import make_item, make_volume
from tests.security.test_output_context import pdf_text as pdf_text_of

TODAY = dt.date.today()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


# --- 4. 解密 and 保密期限 -------------------------------------------------------------------


def test_a_classified_record_opens_only_after_a_declassification_decision(ws, archivist_a):
    item = make_item(ws, year=1990, classification=1, access_status=AccessStatus.UNREVIEWED)
    with pytest.raises(ValidationError, match="declassify it first"):
        services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)
    with pytest.raises(ValidationError) as exc:
        services.declassify_record(
            item, to_level=0, basis="", authority="", decided_on=None, acting_user=archivist_a
        )
    assert set(exc.value.message_dict) == {"basis", "authority", "decided_on"}
    decision = services.declassify_record(
        item,
        to_level=0,
        basis="保密期限届满，经审核不再需要保密",
        authority="市政府办公室（原定密机关）",
        decided_on=TODAY,
        acting_user=archivist_a,
    )
    assert (decision.from_level, decision.to_level, decision.recorded_by) == (1, 0, archivist_a)
    assert AuditLog.objects.filter(action="repository.item.declassified").count() == 1
    services.decide_opening(item, OpeningDecision.OPEN, acting_user=archivist_a)
    item.refresh_from_db()
    assert item.is_public


def test_a_volume_is_declassified_after_its_items(ws, archivist_a):
    volume = make_volume(ws, classification=1)
    item = make_item(ws, volume=volume, classification=1)
    kwargs = dict(basis="b", authority="a", decided_on=TODAY, acting_user=archivist_a)
    with pytest.raises(ValidationError, match="declassify them first"):
        services.declassify_record(volume, to_level=0, **kwargs)
    services.declassify_record(item, to_level=0, **kwargs)
    services.declassify_record(volume, to_level=0, **kwargs)
    assert Declassification.objects.count() == 2


def test_secrecy_period_limits_volume_rule_and_reminders(ws, archivist_a):
    volume = make_volume(ws, classification=1)
    item = make_item(ws, volume=volume, classification=1, date_start=dt.date(2020, 1, 1))
    with pytest.raises(ValidationError, match="at most 10 years"):
        services.set_secrecy_term(
            item, kind=SecrecyPeriodKind.YEARS, years=15, acting_user=archivist_a
        )
    with pytest.raises(ValidationError, match="set the volume's period first"):
        services.set_secrecy_term(
            item, kind=SecrecyPeriodKind.YEARS, years=10, acting_user=archivist_a
        )
    services.set_secrecy_term(
        volume,
        kind=SecrecyPeriodKind.DATE,
        ends_on=TODAY + dt.timedelta(days=30),
        acting_user=archivist_a,
    )
    with pytest.raises(ValidationError, match="outlasts"):
        services.set_secrecy_term(
            item, kind=SecrecyPeriodKind.YEARS, years=10, acting_user=archivist_a
        )
    with pytest.raises(ValidationError, match="basis"):
        services.set_secrecy_term(volume, kind=SecrecyPeriodKind.LONG_TERM, acting_user=archivist_a)
    term = services.set_secrecy_term(
        item,
        kind=SecrecyPeriodKind.DATE,
        ends_on=TODAY + dt.timedelta(days=20),
        basis="保密事项范围",
        acting_user=archivist_a,
    )
    reminders = list(services.secrecy_reminders(within_days=25, user=archivist_a))
    assert [t.pk for t in reminders] == [term.pk]
    assert len(list(services.secrecy_reminders(within_days=60, user=archivist_a))) == 2
    assert list(services.secrecy_reminders(within_days=60, user=None)) != []
    # the public sees no reminder about classified records
    from accounts.models import User

    outsider = User.objects.create_user(username="nobody", password="x")
    assert list(services.secrecy_reminders(within_days=60, user=outsider)) == []


# --- 5. 鉴定与销毁 instead of delete --------------------------------------------------------


def test_a_permanent_record_cannot_be_deleted(ws, archivist_a, client_for):
    """On the old code 删除 hard-deleted a 永久 item with its reviews and moves."""
    item = make_item(ws, retention="Y")
    item.created_at = item.created_at - dt.timedelta(days=2)
    Item.objects.filter(pk=item.pk).update(created_at=item.created_at)
    client = client_for(archivist_a)
    client.post(reverse("repository:staff-record-delete", args=["item", item.pk]))
    assert Item.objects.filter(pk=item.pk).exists()
    response = client.delete(f"/api/v1/items/{item.pk}/")
    body = response.content.decode()
    assert response.status_code == 400 and ("never deleted" in body or "不得删除" in body)
    assert Item.objects.filter(pk=item.pk).exists()


def test_a_draft_is_removable_within_the_window(ws, archivist_a, settings):
    settings.DRAFT_DELETE_WINDOW_MINUTES = 10
    item = services.create_record(
        "item",
        {
            "fonds": ws.fonds,
            "category": ws,
            "title": "误建",
            "date": "2019",
            "creator": "某市档案局",
            "retention": "Y",
            "org_unit": "BGS",
        },
        acting_user=archivist_a,
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)
    with time_machine.travel(later), pytest.raises(ValidationError, match="never deleted"):
        services.delete_record(item, acting_user=archivist_a)
    services.delete_record(item, acting_user=archivist_a)
    assert not Item.objects.filter(pk=item.pk).exists()
    assert AuditLog.objects.filter(action="repository.item.deleted", note="draft").exists()


def test_appraisal_queue_decision_and_supervised_destruction(ws, archivist_a, keeper):
    old = make_item(ws, 1, year=2000, retention="D10", pages=2)
    young = make_item(ws, 2, year=2020, retention="D10")
    permanent = make_item(ws, 3, year=1950, retention="Y")
    kept = make_item(ws, 4, year=2000, retention="D10")
    queue = services.appraisal_queue_for(Item, user=archivist_a)
    assert {r.pk for r in queue} == {old.pk, kept.pk}
    assert young not in queue and permanent not in queue
    with pytest.raises(ValidationError) as exc:
        services.appraise_record(
            permanent,
            AppraisalDecision.DESTROY,
            opinion="x",
            appraisers="甲、乙",
            acting_user=archivist_a,
        )
    assert "never" in str(exc.value)
    with pytest.raises(ValidationError, match="at least two"):
        services.appraise_record(
            old,
            AppraisalDecision.DESTROY,
            opinion="无保存价值",
            appraisers="甲",
            acting_user=archivist_a,
        )
    services.appraise_record(
        kept,
        AppraisalDecision.KEEP,
        opinion="仍有查考价值",
        appraisers="甲、乙",
        new_retention="D30",
        acting_user=archivist_a,
    )
    appraisal = services.appraise_record(
        old,
        AppraisalDecision.DESTROY,
        opinion="无保存价值",
        appraisers="甲、乙",
        acting_user=archivist_a,
    )
    assert services.appraisal_queue_for(Item, user=archivist_a) == []
    kwargs = dict(method="粉碎", place="档案馆销毁室", destroyed_on=TODAY, acting_user=archivist_a)
    with pytest.raises(ValidationError, match="two different persons"):
        services.destroy_records([appraisal], supervisors=[archivist_a, archivist_a], **kwargs)
    destruction = services.destroy_records([appraisal], supervisors=[archivist_a, keeper], **kwargs)
    assert not Item.objects.filter(pk=old.pk).exists()
    tomb = Tombstone.objects.get()
    assert (tomb.reference_code, tomb.title) == (old.reference_code, old.title)
    assert "粉碎" in tomb.destruction_note and tomb.appraisal.opinion == "无保存价值"
    # hidden from search and the catalogue, present in the audit trail
    assert old.pk not in {d["pk"] for d in iter_documents("item")}
    event = AuditLog.objects.get(action="repository.item.destroyed")
    assert event.object_repr.startswith(old.reference_code)
    text = pdf_text_of(services.register_pdf(destruction))
    assert old.reference_code in text and "销毁清册" in text


def test_a_volume_is_destroyed_only_with_its_items(ws, archivist_a, keeper):
    volume = make_volume(ws, year=2000, retention="D10")
    item = make_item(ws, year=2000, retention="D10", volume=volume)
    kw = dict(opinion="无保存价值", appraisers="甲、乙", acting_user=archivist_a)
    a_volume = services.appraise_record(volume, AppraisalDecision.DESTROY, **kw)
    dkw = dict(
        supervisors=[archivist_a, keeper],
        method="粉碎",
        place="室",
        destroyed_on=TODAY,
        acting_user=archivist_a,
    )
    with pytest.raises(ValidationError, match="still holds items"):
        services.destroy_records([a_volume], **dkw)
    a_item = services.appraise_record(item, AppraisalDecision.DESTROY, **kw)
    services.destroy_records([a_volume, a_item], **dkw)
    assert not Volume.objects.exists() and Tombstone.objects.count() == 2
    assert Classification.NONE == 0
