"""Mobile check-in: one scan from the phone (return or re-shelve), idempotent on its scan id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from borrowing.choices import ScanKind
from borrowing.models import Loan, Scan
from borrowing.roles import can_check_in
from borrowing.services.common import BorrowingError, Conflict, NotAllowed, fail
from borrowing.services.loans import active_loan_for, return_locked
from borrowing.services.records import (
    SCAN_CODE_RE,
    find_record_by_code,
    line_kwargs,
    record_code,
    record_kind,
)
from core import errors
from core.undo import undo_deadline, undo_open
from repository.models import Move
from repository.services import move_record


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
    loan = active_loan_for(record)
    if loan is None:
        fail(
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
    if not can_check_in(acting_user):
        fail(NotAllowed, _("Only staff check records in."), "not_allowed")
    if kind not in ScanKind.values:
        fail(BorrowingError, _("Unknown scan kind."), "bad_kind")

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
        fail(Conflict, _("This scan id has already been used."), "scan_id_taken")
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
        .filter(**line_kwargs(record))
        .first()
    )
    if loan is None:
        fail(
            Conflict, _("%(code)s is not on loan.") % {"code": record.reference_code}, "not_on_loan"
        )
    setattr(loan, record_kind(record), record)
    loan = return_locked(loan, acting_user=acting_user, request_locked=True)
    return {"action": "returned", **loan_summary(loan)}


def _scan_shelve(code: str, position_code: str, acting_user: User) -> dict[str, Any]:
    record = find_record_by_code(code, user=acting_user)
    position_code = (position_code or "").strip()
    if not position_code or not SCAN_CODE_RE.match(position_code):
        fail(BorrowingError, _("Scan the shelf position."), "position_missing")
    if active_loan_for(record) is not None:
        fail(
            Conflict,
            _("%(code)s is still on loan: return it first.") % {"code": record.reference_code},
            "still_on_loan",
        )
    expected = expected_position(record)
    matches = expected is None or expected == position_code
    move = None
    if not matches:
        move = _record_move(record, position_code, acting_user)
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
        "moved": move is not None,
        # The move this shelving wrote, and until when ``undo_shelving`` takes it back.
        "move": move.pk if move is not None else None,
        "undo_until": undo_deadline(move.moved_at).isoformat() if move is not None else None,
    }


def _record_move(record, position_code: str, acting_user: User) -> Move:
    """A mismatch is recorded as a move through the repository's service: the record now
    sits where it was scanned."""
    try:
        with transaction.atomic():
            return move_record(
                record, position_code, acting_user=acting_user, reason=_("Re-shelved at check-in")
            )
    except ValidationError as exc:
        raise BorrowingError(" ".join(exc.messages), code="move_refused") from None
    except PermissionDenied as exc:
        raise NotAllowed(str(exc), code="move_refused") from None


@transaction.atomic
def undo_shelving(scan_id: uuid.UUID, acting_user: User) -> dict[str, Any]:
    """Take back a re-shelving at check-in that moved the record (the wrong shelf scanned): only
    whoever scanned it, within ``UNDO_WINDOW_SECONDS``, and only while nothing has moved the
    record since. The record goes back where it was through a compensating move ("undo"); the
    move history stays append-only (DA/T 18: the location record of holdings is kept)."""
    if not can_check_in(acting_user):
        fail(NotAllowed, _("Only staff check records in."), "not_allowed")
    scan = Scan.objects.select_for_update().filter(scan_id=scan_id).first()
    if scan is None:
        raise errors.NotFound(_("No such check-in scan."), "not_found")
    if scan.scanned_by_id != acting_user.pk:
        fail(NotAllowed, _("Only whoever made a scan can undo it."), "not_scanner")
    move_id = scan.result.get("move") if scan.kind == ScanKind.SHELVE else None
    if scan.status_code != 200 or not move_id:
        fail(
            Conflict,
            _("Nothing to undo: this scan did not move the record."),
            "nothing_to_undo",
        )
    if not undo_open(scan.created_at):
        fail(
            Conflict,
            _("Too late to undo this scan: it was made more than %(seconds)d seconds ago.")
            % {"seconds": settings.UNDO_WINDOW_SECONDS},
            "undo_window_closed",
        )
    move = Move.objects.select_related("from_position", "to_position").get(pk=move_id)
    record = move.volume if move.volume_id else move.item
    later = Move.objects.filter(volume_id=move.volume_id, item_id=move.item_id, pk__gt=move.pk)
    if later.exists():
        fail(
            Conflict,
            _("This shelving has already been undone, or the record has been moved since."),
            "moved_since",
        )
    back = move.from_position
    try:
        move_record(
            record,
            back,
            acting_user=acting_user,
            reason=_("Undo (撤销) of the re-shelving at check-in"),
        )
    except ValidationError as exc:
        raise Conflict(" ".join(exc.messages), code="move_refused") from None
    record_event(
        "borrowing.record.reshelving_undone",
        acting_user=acting_user,
        obj=record,
        before={"position": move.to_position.code if move.to_position else None},
        after={"position": back.code if back else None},
        note=str(scan.scan_id),
    )
    return {
        "action": "undone",
        "scan_id": str(scan.scan_id),
        "replayed": False,
        "record": record_code(record),
        "reference_code": record.reference_code,
        "position": back.code if back else None,
    }
