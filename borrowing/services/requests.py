"""Access requests (查阅申请): create, submit, cancel, retrieve from the shelves, close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import ReaderCategory
from accounts.identity import id_number_digest
from accounts.models import ReaderProfile, User
from accounts.readers import IdentityError, check_identity, require_valid_identity
from borrowing.choices import (
    CopyMedium,
    EffectCategory,
    LineDecision,
    RequestState,
    UseMethod,
    UserType,
)
from borrowing.models import AccessRequest, AccessSettings, RequestLine, UsePurpose
from borrowing.roles import can_retrieve, can_serve_desk
from borrowing.services.approvals import compute_chain
from borrowing.services.common import (
    MAX_LINES,
    MAX_LOAN_DAYS,
    BorrowingError,
    Conflict,
    NotAllowed,
    fail,
    lock_request,
    move_request,
    request_snapshot,
    require_handles,
)
from borrowing.services.records import line_kwargs, record_code, requestable


def _purpose(purpose) -> UsePurpose:
    UsePurpose.ensure_defaults()
    if isinstance(purpose, UsePurpose):
        found = purpose if purpose.active else None
    else:
        found = UsePurpose.objects.filter(code=str(purpose or ""), active=True).first()
    if found is None:
        fail(BorrowingError, _("Choose a purpose of use from the list."), "bad_purpose")
    return found


def _identity(check, *args):
    """An identity rule of ``accounts.readers``, refused as a borrowing refusal (same code)."""
    try:
        return check(*args)
    except IdentityError as exc:
        fail(BorrowingError, " ".join(exc.messages), exc.code or "identity")


def _user_type(user: User, profile: ReaderProfile | None) -> str:
    if user.is_archive_staff:
        return UserType.STAFF
    if profile is not None and profile.category == ReaderCategory.INTERNAL:
        return UserType.INTERNAL
    if profile is not None and profile.category == ReaderCategory.ORGANISATION:
        return UserType.ORGANISATION
    return UserType.RESEARCHER


def _line(spec: dict[str, Any], *, user_type: str, settings: AccessSettings) -> dict[str, Any]:
    """One line's method and its details, checked: a refusal names the rule."""
    method = spec.get("method") or UseMethod.READING
    if method not in UseMethod.values:
        fail(BorrowingError, _("Unknown method of use."), "bad_method")
    line: dict[str, Any] = {"method": method}
    if method == UseMethod.LENDING and user_type not in (UserType.STAFF, UserType.INTERNAL):
        # 档案法实施条例 2024 第三十七条: originals are lent only by exception, here to the
        # archive's internal units, with a senior approval (``compute_chain``).
        fail(
            NotAllowed,
            _("Originals are lent only to internal units; ask for reading or a copy."),
            "method_not_allowed",
        )
    if method == UseMethod.COPYING:
        raw = spec.get("copy_pages")
        pages: int | None
        try:
            pages = None if raw is None or raw == "" else int(raw)
        except (TypeError, ValueError):
            pages = None
        if pages is None or pages < 1:
            fail(BorrowingError, _("A copy request needs the number of pages."), "pages_missing")
        if pages > settings.max_copy_pages:
            fail(
                BorrowingError,
                _("At most %(n)d pages per copied record.") % {"n": settings.max_copy_pages},
                "too_many_pages",
            )
        medium = spec.get("copy_medium") or CopyMedium.PAPER
        if medium not in CopyMedium.values:
            fail(BorrowingError, _("Unknown copy medium."), "bad_medium")
        line.update(copy_pages=pages, copy_medium=medium, certified=bool(spec.get("certified")))
    return line


@transaction.atomic
def create_access_request(
    *,
    acting_user: User,
    purpose: str | UsePurpose,
    date_from: dt.date,
    date_to: dt.date | None = None,
    records: Iterable = (),
    lines: Iterable[dict[str, Any]] | None = None,
    method: str = UseMethod.READING,
    copy_pages: int | None = None,
    copy_medium: str = "",
    certified: bool = False,
    note: str = "",
    id_document_type: str = "",
    id_number: str = "",
    id_document_expires: dt.date | None = None,
    submit: bool = True,
) -> AccessRequest:
    """One request (one approval) for several records, each line with its method of use
    (``lines``: ``{"record", "method", "copy_pages", "copy_medium", "certified"}``; or
    ``records`` all with ``method``), and a purpose from the configured list. Each record must
    be requestable: visible to the requester, or a metadata-only entry (controlled records of
    the fonds the settings list). A researcher's identity comes from their registration; a
    first request may still bring the document (it is then registered, checked by GB 11643)."""
    if not acting_user or not acting_user.is_authenticated:
        fail(NotAllowed, _("Sign in to request records."), "anonymous")
    specs = (
        list(lines)
        if lines is not None
        else [
            {
                "record": record,
                "method": method,
                "copy_pages": copy_pages,
                "copy_medium": copy_medium,
                "certified": certified,
            }
            for record in records
        ]
    )
    if not specs:
        fail(BorrowingError, _("Choose at least one record."), "no_records")
    if len(specs) > MAX_LINES:
        fail(BorrowingError, _("At most %(n)d records per request.") % {"n": MAX_LINES}, "too_many")
    use_purpose = _purpose(purpose)
    settings = AccessSettings.current()
    today = timezone.localdate()
    date_to = date_to or date_from
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
    for spec in specs:
        if not requestable(spec["record"], acting_user):
            # Same message whether the record does not exist or may not be seen.
            fail(BorrowingError, _("You cannot request this record."), "record_not_visible")
    profile = ReaderProfile.objects.filter(user=acting_user).first()
    is_staff = acting_user.is_archive_staff
    if not is_staff:
        if id_number:
            checked = _identity(check_identity, id_document_type, id_number, id_document_expires)
            if profile is None:
                profile = ReaderProfile.objects.create(
                    user=acting_user,
                    real_name=str(acting_user)[:100],
                    id_document_type=id_document_type,
                    id_number_last4=checked[-4:],
                    id_number_digest=id_number_digest(checked),
                    id_document_expires=id_document_expires,
                )
            elif profile.id_number_digest != id_number_digest(checked):
                fail(
                    BorrowingError,
                    _("This is not the identity document you registered with."),
                    "identity_mismatch",
                )
        if profile is None:
            fail(
                BorrowingError,
                _("Register your identity document before asking for records."),
                "identity_missing",
            )
        _identity(require_valid_identity, profile)
    user_type = _user_type(acting_user, profile)
    line_values = [_line(spec, user_type=user_type, settings=settings) for spec in specs]
    lending = any(v["method"] == UseMethod.LENDING for v in line_values)
    if lending and (date_to - date_from).days > settings.lending_max_days:
        fail(
            BorrowingError,
            _("Originals are lent for at most %(n)d days.") % {"n": settings.lending_max_days},
            "lending_too_long",
        )
    records = [spec["record"] for spec in specs]
    req = AccessRequest(
        requester=acting_user,
        user_type=user_type,
        purpose=use_purpose,
        date_from=date_from,
        date_to=date_to,
        note=note[:2000],
        id_document_type=profile.id_document_type if profile else "",
        id_number_last4=profile.id_number_last4 if profile else "",
        id_number_digest=profile.id_number_digest if profile else "",
        id_document_expires=profile.id_document_expires if profile else None,
        max_classification=max(int(r.classification) for r in records),
    )
    req.save()
    seen = set()
    for record, values in zip(records, line_values, strict=True):
        key = (type(record), record.pk)
        if key in seen:
            continue
        seen.add(key)
        RequestLine.objects.create(request=req, **line_kwargs(record), **values)
    record_event(
        "borrowing.request.created",
        acting_user=acting_user,
        obj=req,
        after={
            "purpose": use_purpose.code,
            "records": [record_code(r) for r in records],
            "methods": [v["method"] for v in line_values],
        },
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
    req.chain = compute_chain(records, req.lines.values_list("method", flat=True))
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
    """Close a request once everything is done: every original back with its count, every
    approved copy and certificate handed over."""
    if not can_serve_desk(acting_user):
        fail(NotAllowed, _("Only the front desk closes requests."), "not_allowed")
    req = lock_request(req)
    require_handles(req, acting_user)
    if req.state != RequestState.REJECTED:
        waiting = req.lines.filter(
            decision=LineDecision.APPROVED,
            method__in=[UseMethod.COPYING, UseMethod.CERTIFICATE],
            served_at__isnull=True,
        )
        if waiting.exists():
            fail(
                BorrowingError,
                _("Hand over the approved copies and certificates first."),
                "not_served",
            )
        uncounted = req.loans.filter(original=True, returned_count__isnull=True)
        if uncounted.exists():
            fail(
                BorrowingError,
                _("Count the pages or items of every returned original first."),
                "count_missing",
            )
    return move_request(
        req,
        RequestState.CLOSED,
        acting_user=acting_user,
        action="closed",
        notify=False,
        closed_at=timezone.now(),
    )


@transaction.atomic
def record_use_effect(
    req: AccessRequest, *, acting_user: User, effect: str, note: str = ""
) -> AccessRequest:
    """利用效果登记: what the use achieved, by the desk or the researcher themselves."""
    req = lock_request(req)
    if req.requester_id != acting_user.pk:
        if not can_serve_desk(acting_user):
            fail(NotAllowed, _("You cannot record the effect of this use."), "not_allowed")
        require_handles(req, acting_user)
    if effect not in EffectCategory.values:
        fail(BorrowingError, _("Choose what the use achieved."), "bad_effect")
    if req.state not in (RequestState.RETURNED, RequestState.CLOSED, RequestState.RETRIEVED) and (
        not req.lines.filter(served_at__isnull=False).exists()
    ):
        fail(Conflict, _("The effect is recorded after the use."), "not_used")
    before = {"effect": req.effect, "effect_note": req.effect_note}
    req.effect = effect
    req.effect_note = note.strip()[:2000]
    req.effect_recorded_at = timezone.now()
    req.effect_recorded_by = acting_user
    req.save(
        update_fields=[
            "effect",
            "effect_note",
            "effect_recorded_at",
            "effect_recorded_by",
            "updated_at",
        ]
    )
    record_event(
        "borrowing.request.effect_recorded",
        acting_user=acting_user,
        obj=req,
        before=before,
        after={"effect": effect, "effect_note": req.effect_note},
    )
    return req
