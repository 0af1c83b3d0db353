"""Every state change of the borrowing app: atomic, ``acting_user`` keyword-only, one audit row
per change, live notices and e-mail only after commit. Services never see ``request``."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import _jsonable, record_event
from accounts.choices import Classification, Role
from accounts.models import AuditLog, User
from accounts.services import notify_user
from borrowing import digital
from borrowing.access import can_handle
from borrowing.choices import (
    AWAITING_DECISION,
    ON_LOAN_STATES,
    ApproverRole,
    LineDecision,
    Purpose,
    RequestState,
    ScanKind,
    UserType,
)
from borrowing.models import (
    AccessRequest,
    ApprovalDecision,
    ApprovalRule,
    Loan,
    Reminder,
    RequestLine,
    Scan,
    id_number_digest,
)
from core import errors
from repository.access import find_record
from repository.choices import AccessStatus
from repository.models import Item, Volume
from repository.services import move_record

MAX_RENEWALS = 2
MAX_LINES = 50
MAX_LOAN_DAYS = 90
RENEWAL_DAYS = 14


class BorrowingError(ValidationError, errors.Invalid):
    """A refused action, with a message for the person who tried it. Changes nothing.

    Still a Django ValidationError (forms show it); the doors map it by its ``core.errors``
    class."""


class NotAllowed(BorrowingError, errors.NotAllowed):
    pass


class Conflict(BorrowingError, errors.Conflict):
    """The record is already on loan, or the state moved on meanwhile."""


class UnknownCode(BorrowingError, errors.NotFound):
    pass


def _fail(cls: type[BorrowingError], message: str, code: str) -> NoReturn:
    raise cls(message, code=code)


# --- records ---------------------------------------------------------------------------------

SCAN_CODE_RE = re.compile(r"^[0-9A-Za-z·\-_.:/ ]{1,64}$")


def record_code(record) -> str:
    """The code on a record's label and in its barcode: ``I<id>`` for items, ``V<id>`` volumes."""
    return f"{'I' if isinstance(record, Item) else 'V'}{record.pk}"


def record_kind(record) -> str:
    return "item" if isinstance(record, Item) else "volume"


def find_record_by_code(code: str, *, user: User | None):
    """The record a scanned or typed code names (its slip code ``I<id>``/``V<id>``, its
    reference code, or a Code 128 scan of it with "." for "·"), through the repository's one
    finder and so through the record door: a record ``user`` may not see (clearance AND fonds
    permission) is answered exactly like an unknown code."""
    code = (code or "").strip()
    if not code or not SCAN_CODE_RE.match(code):
        _fail(
            BorrowingError,
            _("The code “%(code)s” is not a valid record code.") % {"code": code[:64]},
            "malformed_code",
        )
    record = find_record(user, code, related=("position",))
    if record is None:
        _fail(UnknownCode, _("No record has the code “%(code)s”.") % {"code": code}, "unknown_code")
    return record


def _line_kwargs(record) -> dict[str, Any]:
    return {"item": record} if isinstance(record, Item) else {"volume": record}


# --- approval chain --------------------------------------------------------------------------

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "priority": 10,
        "min_classification": Classification.SECRET,
        "access_status": "",
        "purpose": "",
        "role": ApproverRole.APPROVER,
        "steps": 2,
        "description": "Classified records: approver, then a second approver",
    },
    {
        "priority": 20,
        "min_classification": 0,
        "access_status": "",
        "purpose": Purpose.LENDING,
        "role": ApproverRole.APPROVER,
        "steps": 1,
        "description": "Lending out of the building",
    },
    {
        "priority": 30,
        "min_classification": 0,
        "access_status": AccessStatus.CONTROLLED,
        "purpose": "",
        "role": ApproverRole.APPROVER,
        "steps": 1,
        "description": "Controlled records",
    },
    {
        "priority": 40,
        "min_classification": 0,
        "access_status": AccessStatus.UNREVIEWED,
        "purpose": "",
        "role": ApproverRole.APPROVER,
        "steps": 1,
        "description": "Records not yet reviewed for opening",
    },
    {
        "priority": 100,
        "min_classification": 0,
        "access_status": "",
        "purpose": "",
        "role": ApproverRole.FRONT_DESK,
        "steps": 1,
        "description": "Open records: front desk",
    },
]


def compute_chain(records: Sequence, purpose: str) -> list[dict[str, int | str]]:
    """The approval steps for these records and purpose, from the first matching rule for the
    most restrictive record. Each approver must be cleared to the highest classification.
    Lending out of the building always needs an approver, whatever the table says."""
    level = max((int(r.classification) for r in records), default=0)
    statuses = {r.access_status for r in records}
    rules = list(ApprovalRule.objects.all()) or [ApprovalRule(**rule) for rule in DEFAULT_RULES]
    chosen = None
    for rule in rules:
        if level < rule.min_classification:
            continue
        if rule.access_status and rule.access_status not in statuses:
            continue
        if rule.purpose and rule.purpose != purpose:
            continue
        chosen = rule
        break
    role, steps = (chosen.role, chosen.steps) if chosen else (ApproverRole.APPROVER, 1)
    if purpose == Purpose.LENDING:
        role = ApproverRole.APPROVER
    return [{"role": str(role), "clearance": level} for _step in range(steps)]


def can_decide_step(user: User, step: dict[str, Any], req: AccessRequest) -> bool:
    """May ``user`` decide ``step`` of ``req``: the step's role, a clearance at or above the
    request's records, and every record of the request visible to them (the borrowing door:
    clearance AND a permission on each record's fonds)."""
    if step["role"] == ApproverRole.APPROVER:
        allowed = user.has_role(Role.APPROVER, Role.ADMINISTRATOR)
    else:
        allowed = user.has_role(Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR)
    return allowed and int(user.clearance) >= int(step["clearance"]) and can_handle(user, req)


def _require_handles(req: AccessRequest, user: User) -> None:
    """Staff act only on requests whose every record they may see; the refusal names none."""
    if not can_handle(user, req):
        _fail(NotAllowed, _("You cannot act on this request."), "not_visible")


# --- requests --------------------------------------------------------------------------------


def _audit_many(action: str, *, acting_user: User, objects: list, after) -> None:
    """One audit row per object, written in one INSERT (same fields as ``record_event``)."""
    if not objects:
        return
    object_type = ContentType.objects.get_for_model(objects[0])
    AuditLog.objects.bulk_create(
        AuditLog(
            actor=acting_user,
            actor_repr=acting_user.get_username()[:150],
            action=action,
            object_type=object_type,
            object_id=str(obj.pk),
            object_repr=str(obj)[:255],
            after=_jsonable(after(obj)),
        )
        for obj in objects
    )


def _snapshot(req: AccessRequest) -> dict[str, Any]:
    return {"state": req.state, "number": req.number}


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
        _fail(NotAllowed, _("Sign in to request records."), "anonymous")
    records = list(records)
    if not records:
        _fail(BorrowingError, _("Choose at least one record."), "no_records")
    if len(records) > MAX_LINES:
        _fail(
            BorrowingError, _("At most %(n)d records per request.") % {"n": MAX_LINES}, "too_many"
        )
    if purpose not in Purpose.values:
        _fail(BorrowingError, _("Unknown purpose."), "bad_purpose")
    today = timezone.localdate()
    if date_from < today:
        _fail(BorrowingError, _("The start date is in the past."), "date_in_past")
    if date_to < date_from:
        _fail(BorrowingError, _("The end date is before the start date."), "dates_reversed")
    if (date_to - date_from).days > MAX_LOAN_DAYS:
        _fail(
            BorrowingError,
            _("A request can cover at most %(n)d days.") % {"n": MAX_LOAN_DAYS},
            "too_long",
        )
    for record in records:
        visible = type(record).objects.visible_to(acting_user).filter(pk=record.pk).exists()
        if not visible:
            # Same message whether the record does not exist or may not be seen.
            _fail(BorrowingError, _("You cannot request this record."), "record_not_visible")
    is_staff = acting_user.is_archive_staff
    number = "".join(id_number.split())
    if not is_staff:
        if not id_document_type or not number:
            _fail(
                BorrowingError,
                _("An identity document type and number are required."),
                "identity_missing",
            )
        if not re.fullmatch(r"[0-9A-Za-z]{6,30}", number):
            _fail(
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
        RequestLine.objects.create(request=req, **_line_kwargs(record))
    record_event(
        "borrowing.request.created",
        acting_user=acting_user,
        obj=req,
        after={"purpose": purpose, "records": [record_code(r) for r in records]},
    )
    if submit:
        req = submit_access_request(req, acting_user=acting_user)
    return req


def request_notice(req: AccessRequest) -> dict:
    """What the requester's live notice says: the request and its new state (with its label)."""
    return {"id": req.pk, "state": req.state, "state_label": str(req.get_state_display())}


def _move(
    req: AccessRequest,
    state: str,
    *,
    acting_user: User | None,
    action: str,
    notify: bool = True,
    note: str = "",
    **fields: Any,
) -> AccessRequest:
    """Move a locked request to ``state`` (the state machine refuses illegal moves), set
    ``fields``, save, write one audit row and, after commit, tell the requester."""
    before = _snapshot(req)
    req.transition(state)
    for name, value in fields.items():
        setattr(req, name, value)
    req.save()
    record_event(
        f"borrowing.request.{action}",
        acting_user=acting_user,
        obj=req,
        before=before,
        after=_snapshot(req),
        note=note,
    )
    if notify:
        notify_user(req.requester_id, f"access_request.{action}", request_notice(req))
    return req


def _lock(req: AccessRequest) -> AccessRequest:
    return AccessRequest.objects.select_for_update().get(pk=req.pk)


@transaction.atomic
def submit_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    req = _lock(req)
    if req.requester_id != acting_user.pk:
        _fail(NotAllowed, _("Only the requester can submit this request."), "not_requester")
    records = [line.record for line in req.lines.select_related("item", "volume")]
    before = _snapshot(req)
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
        after={**_snapshot(req), "chain": req.chain},
    )
    return req


@transaction.atomic
def cancel_access_request(
    req: AccessRequest, *, acting_user: User, reason: str = ""
) -> AccessRequest:
    """Cancel at any point before check-out: the requester, or front-desk staff."""
    req = _lock(req)
    if req.requester_id != acting_user.pk and not acting_user.has_role(
        Role.FRONT_DESK, Role.ADMINISTRATOR
    ):
        _fail(NotAllowed, _("You cannot cancel this request."), "not_allowed")
    if req.requester_id != acting_user.pk:
        _require_handles(req, acting_user)
    return _move(
        req,
        RequestState.CANCELLED,
        acting_user=acting_user,
        action="cancelled",
        note=reason[:500],
        closed_at=timezone.now(),
    )


@transaction.atomic
def decide_access_request(
    req: AccessRequest,
    *,
    acting_user: User,
    approve: Iterable[int],
    refuse: Iterable[int] = (),
    reason: str = "",
) -> AccessRequest:
    """Record one step of the approval chain. ``approve``/``refuse`` are line ids; lines not
    named are refused. A refusal needs a reason. The last step decides the request."""
    req = _lock(req)
    if req.state not in AWAITING_DECISION:
        req.transition(RequestState.APPROVED)  # raises the clear state-machine message
    if req.requester_id == acting_user.pk:
        _fail(NotAllowed, _("Nobody may approve their own request."), "own_request")
    decisions = list(req.decisions.all())
    step_index = len(decisions)
    chain = req.chain or [{"role": ApproverRole.APPROVER, "clearance": req.max_classification}]
    step = chain[step_index]
    if any(d.decided_by_id == acting_user.pk for d in decisions):
        _fail(NotAllowed, _("The next step needs a different approver."), "same_approver")
    if int(acting_user.clearance) < int(step["clearance"]):
        _fail(
            NotAllowed,
            _("Your clearance is below the classification of these records."),
            "clearance",
        )
    _require_handles(req, acting_user)
    if not can_decide_step(acting_user, step, req):
        _fail(NotAllowed, _("This step must be decided by an approver."), "wrong_role")
    lines = {line.pk: line for line in req.lines.all()}
    # Only lines still approved by earlier steps are open to this one.
    open_ids = {pk for pk, line in lines.items() if line.decision != LineDecision.REFUSED}
    approve_ids = {int(pk) for pk in approve}
    unknown = approve_ids - set(lines)
    refuse_ids = {int(pk) for pk in refuse} | (open_ids - approve_ids)
    unknown |= refuse_ids - set(lines)
    if unknown:
        _fail(BorrowingError, _("These records are not part of the request."), "unknown_lines")
    if approve_ids - open_ids:
        _fail(
            BorrowingError,
            _("A record refused at an earlier step cannot be approved."),
            "already_refused",
        )
    if refuse_ids & open_ids and not reason.strip():
        _fail(BorrowingError, _("Give a reason for the refusal."), "reason_required")
    now = timezone.now()
    ApprovalDecision.objects.create(
        request=req,
        step=step_index + 1,
        decided_by=acting_user,
        decided_at=now,
        approved_lines=sorted(approve_ids),
        refused_lines=sorted(refuse_ids & open_ids),
        reason=reason[:500],
    )
    for pk in refuse_ids & open_ids:
        line = lines[pk]
        line.decision = LineDecision.REFUSED
        line.refusal_reason = reason[:500]
        line.save(update_fields=["decision", "refusal_reason"])
    before = _snapshot(req)
    last = step_index + 1 >= len(chain) or not approve_ids
    if last:
        for pk in approve_ids:
            lines[pk].decision = LineDecision.APPROVED
            lines[pk].save(update_fields=["decision"])
        if not approve_ids:
            target = RequestState.REJECTED
        elif approve_ids == set(lines):
            target = RequestState.APPROVED
        else:
            target = RequestState.PARTLY_APPROVED
        req.transition(target)
        req.decided_at = now
    else:
        if req.state == RequestState.SUBMITTED:
            req.transition(RequestState.UNDER_REVIEW)
    req.save()
    record_event(
        "borrowing.request.decided",
        acting_user=acting_user,
        obj=req,
        before=before,
        after={
            **_snapshot(req),
            "step": step_index + 1,
            "approved": sorted(approve_ids),
            "refused": sorted(refuse_ids & open_ids),
        },
        note=reason[:500],
    )
    if last and req.state != RequestState.REJECTED:
        grant_digital_access(req, acting_user=acting_user)
    notify_user(req.requester, "access_request.decided", request_notice(req))
    return req


def approve_access_request(
    req: AccessRequest, *, acting_user: User, reason: str = ""
) -> AccessRequest:
    """Approve every still-open line at the current step."""
    ids = list(req.lines.exclude(decision=LineDecision.REFUSED).values_list("pk", flat=True))
    return decide_access_request(req, acting_user=acting_user, approve=ids, reason=reason)


def reject_access_request(req: AccessRequest, *, acting_user: User, reason: str) -> AccessRequest:
    return decide_access_request(req, acting_user=acting_user, approve=[], reason=reason)


def _approved_lines(req: AccessRequest):
    return req.lines.filter(decision=LineDecision.APPROVED).select_related("item", "volume")


@transaction.atomic
def retrieve_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    """The keeper has fetched the approved records from the shelves (取档)."""
    req = _lock(req)
    if not acting_user.has_role(Role.KEEPER, Role.FRONT_DESK, Role.ADMINISTRATOR):
        _fail(NotAllowed, _("Only keepers and the front desk record retrieval."), "not_allowed")
    _require_handles(req, acting_user)
    return _move(req, RequestState.RETRIEVED, acting_user=acting_user, action="retrieved")


def _active_loan_for(record):
    return Loan.objects.active().filter(**_line_kwargs(record)).first()


@transaction.atomic
def check_out_access_request(
    req: AccessRequest, *, acting_user: User, due_date: dt.date, conditions: str = ""
) -> list[Loan]:
    """Hand the approved records to the reader: one loan per record; a record already on loan
    refuses the whole check-out (nothing is written)."""
    if not acting_user.has_role(Role.FRONT_DESK, Role.ADMINISTRATOR):
        _fail(NotAllowed, _("Only the front desk checks records out."), "not_allowed")
    today = timezone.localdate()
    if due_date < today:
        _fail(BorrowingError, _("The due date is in the past."), "due_in_past")
    if (due_date - today).days > MAX_LOAN_DAYS:
        _fail(BorrowingError, _("The due date is too far away."), "due_too_far")
    req = _lock(req)
    _require_handles(req, acting_user)
    before = _snapshot(req)
    req.transition(RequestState.CHECKED_OUT)
    lines = list(_approved_lines(req))
    if not lines:
        _fail(BorrowingError, _("No approved records to check out."), "nothing_approved")
    # Set-based: lock every record row at once (in primary-key order, so two check-outs never
    # deadlock), look for active loans in one query, insert every loan in one statement.
    item_ids = sorted(line.item_id for line in lines if line.item_id)
    volume_ids = sorted(line.volume_id for line in lines if line.volume_id)
    for model, ids in ((Item, item_ids), (Volume, volume_ids)):
        if ids:
            list(
                model.objects.select_for_update()
                .filter(pk__in=ids)
                .order_by("pk")
                .values_list("pk")
            )
    busy = Loan.objects.active().filter(Q(item_id__in=item_ids) | Q(volume_id__in=volume_ids))
    taken = busy.values_list("item_id", "volume_id").first()
    if taken is not None:
        taken_item, taken_volume = taken
        code = next(
            line.record.reference_code
            for line in lines
            if (taken_item and line.item_id == taken_item)
            or (taken_volume and line.volume_id == taken_volume)
        )
        _fail(Conflict, _("%(code)s is already on loan.") % {"code": code}, "on_loan")
    now = timezone.now()
    new = [
        Loan(
            line=line,
            request=req,
            borrower_id=req.requester_id,
            checked_out_by=acting_user,
            checked_out_at=now,
            due_date=due_date,
            conditions=conditions[:500],
            item_id=line.item_id,
            volume_id=line.volume_id,
        )
        for line in lines
    ]
    try:
        with transaction.atomic():
            loans = Loan.objects.bulk_create(new)
    except IntegrityError:  # a concurrent check-out won the race for one of the records
        _fail(Conflict, _("One of these records is already on loan."), "on_loan")
    for loan, line in zip(loans, lines, strict=True):
        loan.item, loan.volume = line.item, line.volume
    _audit_many(
        "borrowing.loan.checked_out",
        acting_user=acting_user,
        objects=loans,
        after=lambda loan: {
            "record": loan.record.reference_code,
            "due_date": due_date,
            "request": req.number,
            "conditions": conditions[:500],
        },
    )
    req.save()
    record_event(
        "borrowing.request.checked_out",
        acting_user=acting_user,
        obj=req,
        before=before,
        after=_snapshot(req),
    )
    notify_user(req.requester, "access_request.checked_out", request_notice(req))
    return loans


_LOAN_RELATED = ("item__position", "volume__position", "request", "borrower")


@transaction.atomic
def return_loan(loan: Loan, *, acting_user: User) -> Loan:
    if not acting_user.has_role(Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR):
        _fail(NotAllowed, _("Only staff take records back."), "not_allowed")
    loan = (
        Loan.objects.select_for_update(of=("self",)).select_related(*_LOAN_RELATED).get(pk=loan.pk)
    )
    _require_handles(loan.request, acting_user)
    return _return_locked(loan, acting_user=acting_user)


def _return_locked(loan: Loan, *, acting_user: User, request_locked: bool = False) -> Loan:
    """Return a loan whose row the caller holds locked (inside its transaction); with
    ``request_locked`` the caller holds ``loan.request`` locked as well."""
    if loan.returned_at is not None:
        _fail(
            Conflict,
            _("%(code)s is not on loan.") % {"code": loan.record.reference_code},
            "not_on_loan",
        )
    loan.returned_at = timezone.now()
    loan.returned_by = acting_user
    loan.save(update_fields=["returned_at", "returned_by"])
    record_event(
        "borrowing.loan.returned",
        acting_user=acting_user,
        obj=loan,
        after={"record": loan.record.reference_code, "returned_at": loan.returned_at},
    )
    req = loan.request if request_locked else _lock(loan.request)
    loan.request = req
    if not req.loans.active().exists() and req.state in ON_LOAN_STATES:
        _move(req, RequestState.RETURNED, acting_user=acting_user, action="returned")
    return loan


@transaction.atomic
def close_access_request(req: AccessRequest, *, acting_user: User) -> AccessRequest:
    if not acting_user.has_role(Role.FRONT_DESK, Role.ADMINISTRATOR):
        _fail(NotAllowed, _("Only the front desk closes requests."), "not_allowed")
    req = _lock(req)
    _require_handles(req, acting_user)
    return _move(
        req,
        RequestState.CLOSED,
        acting_user=acting_user,
        action="closed",
        notify=False,
        closed_at=timezone.now(),
    )


@transaction.atomic
def renew_loan(loan: Loan, *, acting_user: User, due_date: dt.date | None = None) -> Loan:
    """Extend a loan (the borrower or the front desk), at most ``MAX_RENEWALS`` times."""
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if loan.borrower_id != acting_user.pk and not acting_user.has_role(
        Role.FRONT_DESK, Role.ADMINISTRATOR
    ):
        _fail(NotAllowed, _("You cannot renew this loan."), "not_allowed")
    if loan.borrower_id != acting_user.pk:
        _require_handles(loan.request, acting_user)
    if loan.returned_at is not None:
        _fail(Conflict, _("This loan has been returned."), "not_on_loan")
    if loan.renewals >= MAX_RENEWALS:
        _fail(
            BorrowingError,
            _("This loan has been renewed %(n)d times, the limit.") % {"n": MAX_RENEWALS},
            "renewal_limit",
        )
    today = timezone.localdate()
    new_due = due_date or max(loan.due_date, today) + dt.timedelta(days=RENEWAL_DAYS)
    if new_due < today:
        _fail(BorrowingError, _("The due date is in the past."), "due_in_past")
    if new_due <= loan.due_date:
        _fail(BorrowingError, _("A renewal must move the due date later."), "due_not_later")
    if (new_due - today).days > MAX_LOAN_DAYS:
        _fail(BorrowingError, _("The due date is too far away."), "due_too_far")
    before = {"due_date": loan.due_date, "renewals": loan.renewals}
    loan.due_date = new_due
    loan.renewals += 1
    loan.save(update_fields=["due_date", "renewals"])
    record_event(
        "borrowing.loan.renewed",
        acting_user=acting_user,
        obj=loan,
        before=before,
        after={"due_date": loan.due_date, "renewals": loan.renewals},
    )
    req = _lock(loan.request)
    if (
        req.state == RequestState.OVERDUE
        and not req.loans.active().filter(due_date__lt=today).exists()
    ):
        req.state = RequestState.CHECKED_OUT  # back on time after the renewal
        req.save(update_fields=["state", "updated_at"])
    notify_user(loan.borrower, "loan.renewed", {"id": loan.pk, "due_date": str(new_due)})
    return loan


def send_overdue_reminders(*, today: dt.date | None = None) -> int:
    """The daily job: mark overdue requests and remind borrowers by e-mail and in-app notice.
    A reminder for one loan and due date is sent once only (unique row), however often it runs."""
    today = today or timezone.localdate()
    sent = 0
    overdue = Loan.objects.active().filter(due_date__lt=today).select_related("borrower", "request")
    for loan in overdue.iterator():
        with transaction.atomic():
            _reminder, created = Reminder.objects.get_or_create(loan=loan, due_date=loan.due_date)
            if not created:
                continue
            req = _lock(loan.request)
            if req.state == RequestState.CHECKED_OUT:
                _move(req, RequestState.OVERDUE, acting_user=None, action="overdue", notify=False)
            record_event(
                "borrowing.loan.reminded",
                acting_user=None,
                obj=loan,
                after={"due_date": loan.due_date},
            )
            borrower = loan.borrower
            # The borrower reads the record by the record door, like on their own pages: one
            # that has since left their view is named by the request number only.
            record = loan.record
            shown = type(record).objects.visible_to(borrower).filter(pk=record.pk).exists()
            subject = _("Overdue: please return %(code)s") % {
                "code": record.reference_code if shown else req.number
            }
            body = _("The loan of %(record)s (request %(number)s) was due on %(due)s.") % {
                "record": record if shown else req.number,
                "number": req.number,
                "due": loan.due_date,
            }
            if borrower.email:
                email = borrower.email
                transaction.on_commit(partial(send_mail, subject, body, None, [email]))
            notify_user(borrower, "loan.overdue", {"id": loan.pk, "due_date": str(loan.due_date)})
            sent += 1
    return sent


# --- mobile check-in -------------------------------------------------------------------------


@dataclass
class ScanResult:
    """The answer to a scan, kept in the scan log for a replay: ``status`` is the one table's
    (``core.errors.status_of``) for a refusal, 200 otherwise."""

    status: int
    body: dict[str, Any]


def loan_summary(loan: Loan) -> dict[str, Any]:
    record = loan.record
    return {
        "loan": loan.pk,
        "request": loan.request.number,
        "record": record_code(record),
        "reference_code": record.reference_code,
        "title": record.title,
        "borrower": str(loan.borrower),
        "checked_out_at": loan.checked_out_at.isoformat(),
        "due_date": loan.due_date.isoformat(),
        "overdue": loan.is_overdue,
        "returned_at": loan.returned_at.isoformat() if loan.returned_at else None,
        "expected_position": expected_position(record),
    }


def expected_position(record) -> str | None:
    """The shelf position code where the record belongs (when shelf locations exist)."""
    position = getattr(record, "position", None) if hasattr(record, "position_id") else None
    return getattr(position, "code", None) if position else None


def lookup_loan(code: str, *, user: User) -> dict[str, Any]:
    record = find_record_by_code(code, user=user)
    loan = _active_loan_for(record)
    if loan is None:
        _fail(
            Conflict, _("%(code)s is not on loan.") % {"code": record.reference_code}, "not_on_loan"
        )
    return loan_summary(loan)


def _error_body(exc: errors.DomainError) -> dict[str, Any]:
    return {"detail": " ".join(str(m) for m in exc.messages), "code": getattr(exc, "code", None)}


def process_checkin_scan(
    *, acting_user: User, scan_id: uuid.UUID, kind: str, code: str, position: str = ""
) -> ScanResult:
    """One scan from the phone. Idempotent on ``scan_id``: a replay returns the first result and
    changes nothing, so a resent scan never returns a file twice."""
    if not acting_user.has_role(Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR):
        _fail(NotAllowed, _("Only staff check records in."), "not_allowed")
    if kind not in ScanKind.values:
        _fail(BorrowingError, _("Unknown scan kind."), "bad_kind")

    # No look-up first: the unique scan id decides. A resent scan runs its action again inside
    # the transaction, its scan row collides with the first one, everything rolls back and the
    # first result is answered (a file is never returned twice).
    def save_scan(status: int, body: dict[str, Any]) -> None:
        Scan.objects.create(
            scan_id=scan_id,
            kind=kind,
            code=code[:128],
            scanned_by=acting_user,
            status_code=status,
            result=body,
        )

    try:
        try:
            with transaction.atomic():
                if kind == ScanKind.RETURN:
                    body = _scan_return(code, acting_user)
                else:
                    body = _scan_shelve(code, position, acting_user)
                status = 200
                save_scan(status, body)
        except errors.DomainError as exc:  # nothing changed; keep the answer for a resend
            status, body = errors.status_of(exc), _error_body(exc)
            with transaction.atomic():
                save_scan(status, body)
    except IntegrityError:
        first = Scan.objects.filter(scan_id=scan_id).first()
        if first is None:  # a constraint of the action itself, not a resent scan
            raise
        return _replay(first, acting_user)
    return ScanResult(status, {**body, "scan_id": str(scan_id), "replayed": False})


def _replay(scan: Scan, acting_user: User) -> ScanResult:
    if scan.scanned_by_id != acting_user.pk:
        _fail(Conflict, _("This scan id has already been used."), "scan_id_taken")
    return ScanResult(
        scan.status_code, {**scan.result, "scan_id": str(scan.scan_id), "replayed": True}
    )


def _scan_return(code: str, acting_user: User) -> dict[str, Any]:
    record = find_record_by_code(code, user=acting_user)
    # Lock the active loan row (the partial unique index allows only one per record) and its
    # request in one statement; the record itself is already here.
    loan = (
        Loan.objects.active()
        .select_for_update(of=("self", "request"))
        .select_related("request", "borrower")
        .filter(**_line_kwargs(record))
        .first()
    )
    if loan is None:
        _fail(
            Conflict, _("%(code)s is not on loan.") % {"code": record.reference_code}, "not_on_loan"
        )
    setattr(loan, record_kind(record), record)
    loan = _return_locked(loan, acting_user=acting_user, request_locked=True)
    return {"action": "returned", **loan_summary(loan)}


def _scan_shelve(code: str, position_code: str, acting_user: User) -> dict[str, Any]:
    record = find_record_by_code(code, user=acting_user)
    position_code = (position_code or "").strip()
    if not position_code or not SCAN_CODE_RE.match(position_code):
        _fail(BorrowingError, _("Scan the shelf position."), "position_missing")
    if _active_loan_for(record) is not None:
        _fail(
            Conflict,
            _("%(code)s is still on loan: return it first.") % {"code": record.reference_code},
            "still_on_loan",
        )
    expected = expected_position(record)
    matches = expected is None or expected == position_code
    moved = False
    if not matches:
        moved = _record_move(record, position_code, acting_user)
    record_event(
        "borrowing.record.reshelved",
        acting_user=acting_user,
        obj=record,
        after={"position": position_code, "expected": expected, "matches": matches},
    )
    return {
        "action": "shelved",
        "record": record_code(record),
        "reference_code": record.reference_code,
        "title": record.title,
        "position": position_code,
        "expected_position": expected,
        "matches": matches,
        "moved": moved,
    }


def _record_move(record, position_code: str, acting_user: User) -> bool:
    """A mismatch is recorded as a move through the repository's service: the record now
    sits where it was scanned."""
    try:
        with transaction.atomic():
            move_record(
                record, position_code, acting_user=acting_user, reason=_("Re-shelved at check-in")
            )
    except ValidationError as exc:
        raise BorrowingError(" ".join(exc.messages), code="move_refused") from None
    except PermissionDenied as exc:
        raise NotAllowed(str(exc), code="move_refused") from None
    return True


def records_on_loan(volume_ids: set[int], item_ids: set[int]) -> set[tuple[str, int]]:
    """For the repository's stocktake: which of these records are out on loan."""
    active = Loan.objects.active()
    out = {
        ("volume", pk)
        for pk in active.filter(volume_id__in=volume_ids).values_list("volume_id", flat=True)
    }
    out |= {
        ("item", pk) for pk in active.filter(item_id__in=item_ids).values_list("item_id", flat=True)
    }
    return out


# --- digital copies --------------------------------------------------------------------------


def grant_digital_access(req: AccessRequest, *, acting_user: User) -> int:
    """Placeholder until the repository's digitised pages exist; see ``borrowing/digital.py``."""
    return digital.grant_for_request(req, acting_user=acting_user)
