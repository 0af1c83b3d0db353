"""Loans: check-out, return, renewal, overdue reminders, and what is on loan (for stocktakes)."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import ReaderProfile, User
from accounts.readers import IdentityError, record_identity_check, require_valid_identity
from accounts.services import notify_user
from borrowing.choices import ON_LOAN_STATES, LineDecision, RequestState, UseMethod, UserType
from borrowing.models import AccessRequest, AccessSettings, Loan, Reminder
from borrowing.roles import can_check_in, can_serve_desk
from borrowing.services.common import (
    MAX_LOAN_DAYS,
    MAX_RENEWALS,
    BorrowingError,
    Conflict,
    NotAllowed,
    audit_many,
    fail,
    lock_request,
    move_request,
    request_notice,
    request_snapshot,
    require_handles,
)
from borrowing.services.records import line_kwargs
from repository.models import Item, Volume

ORIGINAL_METHODS = (UseMethod.READING, UseMethod.EXCERPT, UseMethod.LENDING)


def _approved_lines(req: AccessRequest):
    """The approved lines in which the reader holds the original (查阅, 摘录, 借出)."""
    return req.lines.filter(
        decision=LineDecision.APPROVED, method__in=ORIGINAL_METHODS
    ).select_related("item", "volume")


def require_checked_identity(req: AccessRequest, *, acting_user: User, identity_seen: str = ""):
    """At each visit (check-out, a copy or certificate handed over): a reader's identity was
    checked once at the desk (who, when, which document; recorded now when ``identity_seen``
    names the document) and the document on file has not expired (档案法实施条例 2024
    第三十六条). Staff requesters are known to the archive."""
    if req.user_type == UserType.STAFF:
        return
    profile = ReaderProfile.objects.filter(user_id=req.requester_id).first()
    if profile is None:
        fail(BorrowingError, _("The reader has no registration."), "identity_missing")
    try:
        require_valid_identity(profile)
        if profile.identity_checked_at is None:
            if not identity_seen.strip():
                fail(
                    BorrowingError,
                    _("Check the reader's identity document before the first use."),
                    "identity_unchecked",
                )
            record_identity_check(profile, acting_user=acting_user, document_seen=identity_seen)
    except IdentityError as exc:
        fail(BorrowingError, " ".join(exc.messages), exc.code or "identity")


def due_date_for(method: str, *, today: dt.date, settings: AccessSettings, lending_due=None):
    """查阅 and 摘录: back at the reading room's closing the same day; 借出: the given date or
    the settings' lending period."""
    if method == UseMethod.LENDING:
        return lending_due or today + dt.timedelta(days=settings.lending_days)
    return today


def active_loan_for(record):
    return Loan.objects.active().filter(**line_kwargs(record)).first()


@transaction.atomic
def check_out_access_request(
    req: AccessRequest,
    *,
    acting_user: User,
    due_date: dt.date | None = None,
    conditions: str = "",
    identity_seen: str = "",
) -> list[Loan]:
    """Hand the approved originals to the reader (查阅, 摘录 in the reading room, due at closing
    today; 借出, due ``due_date`` or after the settings' lending period): one loan per record;
    a record already on loan refuses the whole check-out (nothing is written)."""
    if not can_serve_desk(acting_user):
        fail(NotAllowed, _("Only the front desk checks records out."), "not_allowed")
    today = timezone.localdate()
    settings = AccessSettings.current()
    if due_date is not None and due_date < today:
        fail(BorrowingError, _("The due date is in the past."), "due_in_past")
    if due_date is not None and (due_date - today).days > settings.lending_max_days:
        fail(BorrowingError, _("The due date is too far away."), "due_too_far")
    req = lock_request(req)
    require_handles(req, acting_user)
    before = request_snapshot(req)
    req.transition(RequestState.CHECKED_OUT)
    lines = list(_approved_lines(req))
    if not lines:
        fail(BorrowingError, _("No approved originals to hand out."), "nothing_approved")
    require_checked_identity(req, acting_user=acting_user, identity_seen=identity_seen)
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
        fail(Conflict, _("%(code)s is already on loan.") % {"code": code}, "on_loan")
    now = timezone.now()
    new = [
        Loan(
            line=line,
            request=req,
            borrower_id=req.requester_id,
            checked_out_by=acting_user,
            checked_out_at=now,
            due_date=due_date_for(
                line.method, today=today, settings=settings, lending_due=due_date
            ),
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
        fail(Conflict, _("One of these records is already on loan."), "on_loan")
    for loan, line in zip(loans, lines, strict=True):
        loan.item, loan.volume = line.item, line.volume
    audit_many(
        "borrowing.loan.checked_out",
        acting_user=acting_user,
        objects=loans,
        after=lambda loan: {
            "record": loan.record.reference_code,
            "due_date": loan.due_date,
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
        after=request_snapshot(req),
    )
    notify_user(req.requester, "access_request.checked_out", request_notice(req))
    return loans


_LOAN_RELATED = ("item__position", "volume__position", "request", "borrower")


def _count(counted) -> int | None:
    try:
        value = int(counted) if counted not in (None, "") else None
    except (TypeError, ValueError):
        value = None
    if value is not None and value < 0:
        value = None
    return value


@transaction.atomic
def return_loan(
    loan: Loan, *, acting_user: User, counted: int | None = None, condition: str = ""
) -> Loan:
    """Take a record back at the desk. An original needs its completeness count (pages or
    items counted) and may carry condition notes (档案法实施条例 2024 第三十八条: 利用档案
    不得损毁、涂改、抽换); without the count it is refused and nothing changes."""
    if not can_check_in(acting_user):
        fail(NotAllowed, _("Only staff take records back."), "not_allowed")
    loan = (
        Loan.objects.select_for_update(of=("self",)).select_related(*_LOAN_RELATED).get(pk=loan.pk)
    )
    require_handles(loan.request, acting_user)
    value = _count(counted)
    if loan.original and value is None:
        fail(
            BorrowingError,
            _("An original is taken back only with its pages or items counted."),
            "count_missing",
        )
    return return_locked(loan, acting_user=acting_user, counted=value, condition=condition)


@transaction.atomic
def record_return_count(
    loan: Loan, *, acting_user: User, counted: int | None, condition: str = ""
) -> Loan:
    """The completeness count of a record returned by a phone scan (the request cannot close
    without it)."""
    if not can_check_in(acting_user):
        fail(NotAllowed, _("Only staff take records back."), "not_allowed")
    loan = Loan.objects.select_for_update(of=("self",)).get(pk=loan.pk)
    require_handles(loan.request, acting_user)
    value = _count(counted)
    if loan.returned_at is None:
        fail(Conflict, _("This record has not been returned yet."), "not_returned")
    if value is None:
        fail(BorrowingError, _("Give the pages or items counted."), "count_missing")
    before = {"returned_count": loan.returned_count, "return_condition": loan.return_condition}
    loan.returned_count = value
    loan.return_condition = condition.strip()[:500]
    loan.save(update_fields=["returned_count", "return_condition"])
    record_event(
        "borrowing.loan.counted",
        acting_user=acting_user,
        obj=loan,
        before=before,
        after={"returned_count": value, "return_condition": loan.return_condition},
    )
    return loan


def return_locked(
    loan: Loan,
    *,
    acting_user: User,
    request_locked: bool = False,
    counted: int | None = None,
    condition: str = "",
) -> Loan:
    """Return a loan whose row the caller holds locked (inside its transaction); with
    ``request_locked`` the caller holds ``loan.request`` locked as well. A phone scan returns
    without a count: the request then waits for ``record_return_count`` before it closes."""
    if loan.returned_at is not None:
        fail(
            Conflict,
            _("%(code)s is not on loan.") % {"code": loan.record.reference_code},
            "not_on_loan",
        )
    loan.returned_at = timezone.now()
    loan.returned_by = acting_user
    loan.returned_count = counted
    loan.return_condition = (condition or "").strip()[:500]
    loan.save(update_fields=["returned_at", "returned_by", "returned_count", "return_condition"])
    record_event(
        "borrowing.loan.returned",
        acting_user=acting_user,
        obj=loan,
        after={
            "record": loan.record.reference_code,
            "returned_at": loan.returned_at,
            "returned_count": counted,
            "condition": loan.return_condition,
        },
    )
    req = loan.request if request_locked else lock_request(loan.request)
    loan.request = req
    if not req.loans.active().exists() and req.state in ON_LOAN_STATES:
        move_request(req, RequestState.RETURNED, acting_user=acting_user, action="returned")
    return loan


@transaction.atomic
def renew_loan(loan: Loan, *, acting_user: User, due_date: dt.date | None = None) -> Loan:
    """Extend a loan (the borrower or the front desk), at most ``MAX_RENEWALS`` times."""
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if loan.borrower_id != acting_user.pk and not can_serve_desk(acting_user):
        fail(NotAllowed, _("You cannot renew this loan."), "not_allowed")
    if loan.borrower_id != acting_user.pk:
        require_handles(loan.request, acting_user)
    if loan.returned_at is not None:
        fail(Conflict, _("This loan has been returned."), "not_on_loan")
    if loan.renewals >= MAX_RENEWALS:
        fail(
            BorrowingError,
            _("This loan has been renewed %(n)d times, the limit.") % {"n": MAX_RENEWALS},
            "renewal_limit",
        )
    today = timezone.localdate()
    settings = AccessSettings.current()
    lending = loan.line.method == UseMethod.LENDING
    # 查阅 extended: to the next day's closing; 借出: by the lending period.
    step = settings.lending_days if lending else 1
    new_due = due_date or max(loan.due_date, today) + dt.timedelta(days=step)
    if new_due < today:
        fail(BorrowingError, _("The due date is in the past."), "due_in_past")
    if new_due <= loan.due_date:
        fail(BorrowingError, _("A renewal must move the due date later."), "due_not_later")
    if (new_due - today).days > (settings.lending_max_days if lending else MAX_LOAN_DAYS):
        fail(BorrowingError, _("The due date is too far away."), "due_too_far")
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
    req = lock_request(loan.request)
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
            req = lock_request(loan.request)
            if req.state == RequestState.CHECKED_OUT:
                move_request(
                    req, RequestState.OVERDUE, acting_user=None, action="overdue", notify=False
                )
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
