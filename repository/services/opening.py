"""Opening review (开放审核): the queue of records past their opening age and the decision."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import Classification
from core.outbox import enqueue
from repository.choices import AccessStatus, OpeningDecision
from repository.models import Category, OpeningReview
from repository.services.fields import kind_of, require_change


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def review_queue_for(model, *, today: dt.date | None = None, categories=None):
    """Records of ``model`` that reached their opening age and are not open, oldest first."""
    today = today or timezone.localdate()
    due = Q(pk__in=[])
    for category_id, age in (categories or Category.objects).values_list("id", "opening_age_years"):
        cutoff = _years_before(today, age)
        due |= Q(category_id=category_id) & (
            Q(date_end__lte=cutoff) | Q(date_end__isnull=True, filing_year__lte=cutoff.year - 1)
        )
    return (
        model.objects.exclude(access_status=AccessStatus.OPEN)
        .filter(due)
        .filter(Q(next_review_on__isnull=True) | Q(next_review_on__lte=today))
        .order_by("date_end", "id")
    )


@transaction.atomic
def decide_opening(
    record,
    decision: str,
    *,
    acting_user,
    reason: str = "",
    next_review_on: dt.date | None = None,
    withheld_pages=(),
) -> OpeningReview:
    """Record an opening decision: open / keep controlled (reason + next review date) / open
    in part (the listed digitised pages stay withheld). Opening takes effect everywhere at once
    (every door reads ``access_status`` through ``visible_to``; search gets an outbox row)."""
    record = type(record).objects.select_for_update().get(pk=record.pk)
    require_change(acting_user, record.fonds, record.classification)
    reason = (reason or "").strip()
    if decision not in OpeningDecision.values:
        raise ValidationError({"decision": [_("Unknown decision.")]})
    pages = sorted({int(p) for p in withheld_pages or ()})
    if (
        decision in (OpeningDecision.OPEN, OpeningDecision.PARTIAL)
        and record.classification != Classification.NONE
    ):
        raise ValidationError(
            {"decision": [_("A classified record cannot be opened; declassify it first.")]}
        )
    if decision == OpeningDecision.CONTROLLED:
        errors = {}
        if not reason:
            errors["reason"] = [_("Give the reason for keeping the record controlled.")]
        if next_review_on is None:
            errors["next_review_on"] = [_("Give the date of the next review.")]
        elif next_review_on <= timezone.localdate():
            errors["next_review_on"] = [_("The next review date must be in the future.")]
        if errors:
            raise ValidationError(errors)
    if decision == OpeningDecision.PARTIAL:
        if not pages:
            raise ValidationError(
                {"withheld_pages": [_("List the pages that stay closed when opening in part.")]}
            )
        if not reason:
            raise ValidationError({"reason": [_("Give the reason for withholding pages.")]})
    before = {"access_status": record.access_status, "next_review_on": record.next_review_on}
    if decision == OpeningDecision.CONTROLLED:
        record.access_status = AccessStatus.CONTROLLED
        record.next_review_on = next_review_on
    else:
        record.access_status = AccessStatus.OPEN
        record.next_review_on = None
    record.pages_digitised.update(withheld=False)
    if pages:
        record.pages_digitised.filter(page_number__in=pages).update(withheld=True)
    record.version += 1
    record.save(update_fields=["access_status", "next_review_on", "version", "updated_at"])
    review = OpeningReview.objects.create(
        **{kind_of(record): record},
        decision=decision,
        reason=reason,
        next_review_on=record.next_review_on,
        withheld_pages=pages,
        decided_by=acting_user if acting_user and acting_user.is_authenticated else None,
    )
    record_event(
        "repository.opening.decided",
        acting_user=acting_user,
        obj=record,
        before=before,
        after={
            "decision": decision,
            "access_status": record.access_status,
            "next_review_on": record.next_review_on,
            "withheld_pages": pages,
        },
        note=reason,
    )
    enqueue(record)
    return review
