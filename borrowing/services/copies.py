"""Services that hand over something other than the original: copies (复制, counted in pages,
certified copies carry a certificate number under the 复制专用章) and archival certificates
(出具档案证明: a numbered certificate with its content, issued as a PDF)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from borrowing.choices import LineDecision, RequestState, UseMethod
from borrowing.models import AccessSettings, RequestLine
from borrowing.roles import can_serve_desk
from borrowing.services.common import BorrowingError, Conflict, NotAllowed, fail, require_handles
from borrowing.services.loans import require_checked_identity

SERVABLE_STATES = frozenset(
    {
        RequestState.APPROVED,
        RequestState.PARTLY_APPROVED,
        RequestState.RETRIEVED,
        RequestState.CHECKED_OUT,
        RequestState.OVERDUE,
        RequestState.RETURNED,
    }
)


def next_certificate_number(settings: AccessSettings, year: int) -> str:
    """``<prefix><year>-<five digits>``, one series per year; the caller holds the settings row
    locked, so two desks never hand out the same number."""
    stem = f"{settings.certificate_prefix}{year}-"
    last = (
        RequestLine.objects.filter(certificate_number__startswith=stem)
        .order_by("-certificate_number")
        .values_list("certificate_number", flat=True)
        .first()
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{stem}{n:05d}"


@transaction.atomic
def serve_line(
    line: RequestLine,
    *,
    acting_user: User,
    pages: int | None = None,
    content: str = "",
    identity_seen: str = "",
) -> RequestLine:
    """Hand over a copy (pages made; a certified copy gets a certificate number) or a
    certificate (content required; numbered). Once only; the line must be approved."""
    if not can_serve_desk(acting_user):
        fail(
            NotAllowed, _("Only the front desk hands over copies and certificates."), "not_allowed"
        )
    line = RequestLine.objects.select_for_update().select_related("request").get(pk=line.pk)
    req = line.request
    require_handles(req, acting_user)
    if line.method not in (UseMethod.COPYING, UseMethod.CERTIFICATE):
        fail(BorrowingError, _("Only copies and certificates are handed over here."), "bad_method")
    if line.decision != LineDecision.APPROVED or req.state not in SERVABLE_STATES:
        fail(Conflict, _("This record has not been approved."), "not_approved")
    if line.served_at is not None:
        fail(Conflict, _("This has been handed over already."), "served")
    require_checked_identity(req, acting_user=acting_user, identity_seen=identity_seen)
    settings = AccessSettings.objects.select_for_update().get(pk=AccessSettings.current().pk)
    now = timezone.now()
    if line.method == UseMethod.COPYING:
        made = pages if pages is not None else line.copy_pages
        if made is None or int(made) < 1:
            fail(BorrowingError, _("A copy needs the number of pages made."), "pages_missing")
        line.copy_pages = int(made)
        if line.certified:
            line.certificate_number = next_certificate_number(settings, timezone.localdate().year)
    else:
        if not content.strip():
            fail(BorrowingError, _("Write the content of the certificate."), "content_missing")
        line.certificate_content = content.strip()[:4000]
        line.certificate_number = next_certificate_number(settings, timezone.localdate().year)
    line.served_at = now
    line.served_by = acting_user
    line.save()
    record_event(
        "borrowing.line.served",
        acting_user=acting_user,
        obj=req,
        after={
            "line": line.pk,
            "method": line.method,
            "pages": line.copy_pages,
            "certificate_number": line.certificate_number,
        },
    )
    return line
