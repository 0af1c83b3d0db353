"""Access requests (查阅申请): create, submit, cancel, retrieve from the shelves, close."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from borrowing.choices import Purpose, RequestState, UserType
from borrowing.models import AccessRequest, RequestLine, id_number_digest
from borrowing.roles import can_retrieve, can_serve_desk
from borrowing.services.approvals import compute_chain
from borrowing.services.common import (
    MAX_LINES,
    MAX_LOAN_DAYS,
    BorrowingError,
    NotAllowed,
    fail,
    lock_request,
    move_request,
    request_snapshot,
    require_handles,
)
from borrowing.services.records import line_kwargs, record_code


@transaction.atomic
def create_access_request(
    *,
    acting_user: User,
    records: Iterable,
    purpose: str,
    date_from: dt.date,
    date_to: dt.date,
    note: str = "",
    id_document_type: str = "",
    id_number: str = "",
    id_document_expires: dt.date | None = None,
    submit: bool = True,
) -> AccessRequest:
    """A request for ``records`` (volumes/items); each must be visible to the requester."""
    if not acting_user or not acting_user.is_authenticated:
        fail(NotAllowed, _("Sign in to request records."), "anonymous")
    records = list(records)
    if not records:
        fail(BorrowingError, _("Choose at least one record."), "no_records")
    if len(records) > MAX_LINES:
        fail(BorrowingError, _("At most %(n)d records per request.") % {"n": MAX_LINES}, "too_many")
    if purpose not in Purpose.values:
        fail(BorrowingError, _("Unknown purpose."), "bad_purpose")
    today = timezone.localdate()
    if date_from < today:
        fail(BorrowingError, _("The start date is in the past."), "date_in_past")
    if date_to < date_from:
        fail(BorrowingError, _("The end date is before the start date."), "dates_reversed")
    if (date_to - date_from).days > MAX_LOAN_DAYS:
        fail(
            BorrowingError,
            _("A request can cover at most %(n)d days.") % {"n": MAX_LOAN_DAYS},
            "too_long",
        )
    for record in records:
        visible = type(record).objects.visible_to(acting_user).filter(pk=record.pk).exists()
        if not visible:
            # Same message whether the record does not exist or may not be seen.
            fail(BorrowingError, _("You cannot request this record."), "record_not_visible")
    is_staff = acting_user.is_archive_staff
    number = "".join(id_number.split())
    if not is_staff:
        if not id_document_type or not number:
            fail(
                BorrowingError,
                _("An identity document type and number are required."),
                "identity_missing",
            )
        if not re.fullmatch(r"[0-9A-Za-z]{6,30}", number):
            fail(
                BorrowingError, _("The identity document number is not valid."), "identity_invalid"
            )
    req = AccessRequest(
        requester=acting_user,
        user_type=UserType.STAFF if is_staff else UserType.RESEARCHER,
        purpose=purpose,
        date_from=date_from,
        date_to=date_to,
        note=note[:2000],
        id_document_type=id_document_type if number else "",
        id_number_last4=number[-4:].upper() if number else "",
        id_number_digest=id_number_digest(number) if number else "",
        id_document_expires=id_document_expires,
        max_classification=max(int(r.classification) for r in records),
    )
    req.save()
    seen = set()
    for record in records:
        key = (type(record), record.pk)
        if key in seen:
            continue
        seen.add(key)
        RequestLine.objects.create(request=req, **line_kwargs(record))
    record_event(
        "borrowing.request.created",
        acting_user=acting_user,
        obj=req,
        after={"purpose": purpose, "records": [record_code(r) for r in records]},
    )
    if submit:
        req = submit_access_request(req, acting_user=acting_user)
    return req


@transaction.atomic
def submit_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    req = lock_request(req)
    if req.requester_id != acting_user.pk:
        fail(NotAllowed, _("Only the requester can submit this request."), "not_requester")
    records = [line.record for line in req.lines.select_related("item", "volume")]
    before = request_snapshot(req)
    req.transition(RequestState.SUBMITTED)
    req.chain = compute_chain(records, req.purpose)
    req.max_classification = max((int(r.classification) for r in records), default=0)
    req.submitted_at = timezone.now()
    req.save()
    record_event(
        "borrowing.request.submitted",
        acting_user=acting_user,
        obj=req,
        before=before,
        after={**request_snapshot(req), "chain": req.chain},
    )
    return req


@transaction.atomic
def cancel_access_request(
    req: AccessRequest, *, acting_user: User, reason: str = ""
) -> AccessRequest:
    """Cancel at any point before check-out: the requester, or front-desk staff."""
    req = lock_request(req)
    if req.requester_id != acting_user.pk and not can_serve_desk(acting_user):
        fail(NotAllowed, _("You cannot cancel this request."), "not_allowed")
    if req.requester_id != acting_user.pk:
        require_handles(req, acting_user)
    return move_request(
        req,
        RequestState.CANCELLED,
        acting_user=acting_user,
        action="cancelled",
        note=reason[:500],
        closed_at=timezone.now(),
    )


@transaction.atomic
def retrieve_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    """The keeper has fetched the approved records from the shelves (取档)."""
    req = lock_request(req)
    if not can_retrieve(acting_user):
        fail(NotAllowed, _("Only keepers and the front desk record retrieval."), "not_allowed")
    require_handles(req, acting_user)
    return move_request(req, RequestState.RETRIEVED, acting_user=acting_user, action="retrieved")


@transaction.atomic
def close_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    if not can_serve_desk(acting_user):
        fail(NotAllowed, _("Only the front desk closes requests."), "not_allowed")
    req = lock_request(req)
    require_handles(req, acting_user)
    return move_request(
        req,
        RequestState.CLOSED,
        acting_user=acting_user,
        action="closed",
        notify=False,
        closed_at=timezone.now(),
    )
