"""What every borrowing service shares: its refusals (``core.errors`` classes that are also
Django ``ValidationError``s), the limits, the request lock, the audited state move with its
live notice, and the staff check that a request lies wholly behind the record door."""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.audit import _jsonable, record_event
from accounts.models import AuditLog, User
from accounts.services import notify_user
from borrowing.access import can_handle
from borrowing.models import AccessRequest
from core import errors
from core.messages import RENDER_KEY, ref

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


def fail(cls: type[BorrowingError], message: str, code: str) -> NoReturn:
    raise cls(message, code=code)


def require_handles(req: AccessRequest, user: User) -> None:
    """Staff act only on requests whose every record they may see; the refusal names none."""
    if not can_handle(user, req):
        fail(NotAllowed, _("You cannot act on this request."), "not_visible")


def audit_many(action: str, *, acting_user: User, objects: list, after) -> None:
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


def request_snapshot(req: AccessRequest) -> dict[str, Any]:
    return {"state": req.state, "number": req.number}


STATE_MESSAGE = "borrowing.request_state."  # + state: its label (core.messages)


def request_notice(req: AccessRequest) -> dict:
    """What the requester's live notice says: the request and its new state, with its label
    rendered by the requester's connection in their language (core.messages)."""
    return {
        "id": req.pk,
        "state": req.state,
        "state_label": str(req.get_state_display()),
        RENDER_KEY: {"state_label": ref(STATE_MESSAGE + req.state)},
    }


def move_request(
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
    before = request_snapshot(req)
    req.transition(state)
    for name, value in fields.items():
        setattr(req, name, value)
    req.save()
    record_event(
        f"borrowing.request.{action}",
        acting_user=acting_user,
        obj=req,
        before=before,
        after=request_snapshot(req),
        note=note,
    )
    if notify:
        notify_user(req.requester_id, f"access_request.{action}", request_notice(req))
    return req


def lock_request(req: AccessRequest) -> AccessRequest:
    return AccessRequest.objects.select_for_update().get(pk=req.pk)
