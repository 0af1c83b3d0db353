"""Time-limited access to digitised pages: approval grants the requester a django-guardian view
permission on each approved record's pages plus an expiry record (``DigitalGrant``);
``expire_grants`` revokes both on time, after which the pages answer 404 again."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.audit import record_event
from accounts.permissions import grant, revoke
from borrowing.choices import LineDecision
from borrowing.models import AccessRequest, DigitalGrant
from repository.models import DigitalPage

PERM = "repository.view_digitalpage"


def _pages(record):
    field = "item" if record.__class__.__name__ == "Item" else "volume"
    return DigitalPage.objects.filter(**{field: record}, withheld=False)


def window_end(date: dt.date) -> dt.datetime:
    """The end of the approved window: midnight after ``date`` in the archive's time zone."""
    return timezone.make_aware(dt.datetime.combine(date + dt.timedelta(days=1), dt.time.min))


def grant_for_request(req: AccessRequest, *, acting_user) -> int:
    """Called inside the approving service's transaction."""
    now = timezone.now()
    expires = window_end(req.date_to)
    if expires <= now:
        return 0
    count = 0
    for line in req.lines.filter(decision=LineDecision.APPROVED).select_related("item", "volume"):
        pages = _pages(line.record)
        if not pages.exists():
            continue
        kwargs = {"item": line.item} if line.item_id else {"volume": line.volume}
        digital = DigitalGrant.objects.create(
            request=req, user=req.requester, starts_at=now, expires_at=expires, **kwargs
        )
        grant(PERM, req.requester, pages)
        record_event(
            "borrowing.digital.granted",
            acting_user=acting_user,
            obj=digital,
            after={"record": line.record.reference_code, "expires_at": expires},
        )
        count += 1
    return count


def expire_grants(*, now: dt.datetime | None = None) -> int:
    """The job: revoke every grant whose window has ended (idempotent)."""
    now = now or timezone.now()
    done = 0
    due = DigitalGrant.objects.filter(revoked_at=None, expires_at__lte=now).select_related(
        "user", "item", "volume"
    )
    for digital in due:
        with transaction.atomic():
            locked = DigitalGrant.objects.select_for_update().get(pk=digital.pk)
            if locked.revoked_at is not None:
                continue
            still_granted = (
                DigitalGrant.objects.filter(
                    user=digital.user,
                    revoked_at=None,
                    expires_at__gt=now,
                    item=digital.item,
                    volume=digital.volume,
                )
                .exclude(pk=digital.pk)
                .exists()
            )
            if not still_granted:
                revoke(PERM, digital.user, _pages(digital.record))
            locked.revoked_at = now
            locked.save(update_fields=["revoked_at"])
            record_event(
                "borrowing.digital.expired",
                acting_user=None,
                obj=locked,
                after={"record": digital.record.reference_code},
            )
            done += 1
    return done


def access_grant_for_user(user, grant_id) -> DigitalGrant:
    """An active grant of this user; 404 for missing, someone else's, expired or revoked."""
    try:
        digital = DigitalGrant.objects.select_related("item", "volume").get(
            pk=int(grant_id), user_id=user.pk, revoked_at=None, expires_at__gt=timezone.now()
        )
    except (DigitalGrant.DoesNotExist, TypeError, ValueError):
        raise Http404 from None
    # The record door still applies: a record that has left the user's view (reclassified,
    # closed, a fonds permission withdrawn) is not served through an earlier grant.
    record = digital.record
    if not type(record).objects.visible_to(user).filter(pk=record.pk).exists():
        raise Http404
    return digital


def access_page_for_user(user, grant_id, page_number) -> DigitalPage:
    digital = access_grant_for_user(user, grant_id)
    try:
        page = _pages(digital.record).get(page_number=int(page_number))
    except (DigitalPage.DoesNotExist, TypeError, ValueError):
        raise Http404 from None
    if not user.has_perm(PERM, page):
        raise Http404
    return page


def record_copy_view(page: DigitalPage, *, acting_user) -> None:
    """Audit every view of a digital copy of a controlled or classified record."""
    record = page.record
    if not record.is_public:
        record_event(
            "borrowing.digital.viewed",
            acting_user=acting_user,
            obj=record,
            after={"page": page.page_number},
        )
