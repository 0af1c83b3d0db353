"""Access helpers: fetch and authorise in one step; 404 for both missing and forbidden."""

from __future__ import annotations

from django.http import Http404

from accounts.choices import Role
from borrowing.models import AccessRequest, Loan

BORROWING_STAFF_ROLES = (Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR)
DESK_ROLES = (Role.FRONT_DESK, Role.ADMINISTRATOR)
CHECKIN_ROLES = (Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR)


def is_borrowing_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(*BORROWING_STAFF_ROLES))


def access_request_for_user(user, request_id) -> AccessRequest:
    try:
        return AccessRequest.objects.visible_to(user).get(pk=int(request_id))
    except (AccessRequest.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def access_loan_for_user(user, loan_id) -> Loan:
    if not is_borrowing_staff(user):
        qs = (
            Loan.objects.filter(borrower=user)
            if user and user.is_authenticated
            else Loan.objects.none()
        )
    else:
        qs = Loan.objects.filter(request__in=AccessRequest.objects.visible_to(user))
    try:
        return qs.get(pk=int(loan_id))
    except (Loan.DoesNotExist, TypeError, ValueError):
        raise Http404 from None
