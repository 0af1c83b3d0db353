"""Access helpers: fetch and authorise in one step; 404 for both missing and forbidden.

The borrowing door is composed from the record door (``visible_to`` on volumes and items:
clearance AND a permission on the fonds, or the public rules): a request, loan, slip,
retrieval line, statistic or check-in look-up is there for a member of staff only when every
record it names passes the record door for them (``AccessRequest.objects.handled_by``);
otherwise it is absent (404), never shown in part. Requesters and borrowers also see their own
requests and loans, each record by the same record door.
"""

from __future__ import annotations

from django.http import Http404

from borrowing.models import AccessRequest, Loan


def _get(qs, pk):
    try:
        return qs.get(pk=int(pk))
    except (qs.model.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404 from None


def access_request_for_user(user, request_id) -> AccessRequest:
    """A request the user may read: one they handle as staff, or their own."""
    return _get(AccessRequest.objects.visible_to(user), request_id)


def access_request_for_staff(user, request_id) -> AccessRequest:
    """A request a member of staff handles (every record it names is visible to them)."""
    return _get(AccessRequest.objects.handled_by(user), request_id)


def access_own_request(user, request_id) -> AccessRequest:
    """The user's own request (the requester's pages)."""
    if user is None or not user.is_authenticated:
        raise Http404
    return _get(AccessRequest.objects.filter(requester=user), request_id)


def access_loan_for_user(user, loan_id) -> Loan:
    """A loan the user may read: one they handle as staff, or their own."""
    return _get(Loan.objects.visible_to(user), loan_id)


def access_loan_for_staff(user, loan_id) -> Loan:
    return _get(Loan.objects.handled_by(user), loan_id)


def can_handle(user, req: AccessRequest) -> bool:
    return AccessRequest.objects.handled_by(user).filter(pk=req.pk).exists()
