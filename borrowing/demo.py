"""Demo access requests for ``seed_demo``: a few requests in several states, made through the
services (so decisions, loans and audit rows are real). Idempotent: runs once per database."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.models import User
from borrowing import services
from borrowing.models import AccessRequest
from repository.choices import AccessStatus
from repository.models import Item

MARK = "[demo]"


def seed(*, records: int, out) -> None:
    if AccessRequest.objects.filter(note__startswith=MARK).exists():
        out.write("demo access requests: already there")
        return
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=["researcher", "frontdesk", "approver", "keeper", "admin"]
        )
    }
    if len(users) < 5:
        out.write("demo access requests: skipped (demo users missing)")
        return
    researcher, desk, approver = users["researcher"], users["frontdesk"], users["approver"]
    keeper, admin = users["keeper"], users["admin"]
    public = list(Item.objects.public().order_by("pk")[:8])
    if len(public) < 8:
        out.write("demo access requests: skipped (fewer than 8 open records)")
        return
    today = timezone.localdate()
    identity = {
        "id_document_type": "resident_id",
        "id_number": "110101199001061234",
        "id_document_expires": today + dt.timedelta(days=3650),
    }

    def request(user, recs, method="reading", purpose="research", days=0, note="", **kwargs):
        extra = identity if not user.is_archive_staff else {}
        if method == "copying":
            kwargs.setdefault("copy_pages", 12)
        return services.create_access_request(
            acting_user=user,
            records=recs,
            method=method,
            purpose=purpose,
            date_from=today,
            date_to=today + dt.timedelta(days=days),
            note=f"{MARK} {note}".strip(),
            **extra,
            **kwargs,
        )

    made = 0
    # 1. waiting for the front desk
    request(researcher, [public[0]], purpose="history", note="编写地方志")
    made += 1
    # 2. approved, retrieved and checked out
    req = services.approve_access_request(
        request(researcher, [public[1], public[2]], note="学位论文"), acting_user=desk
    )
    services.retrieve_access_request(req, acting_user=keeper)
    services.check_out_access_request(
        req, acting_user=desk, conditions="阅览室内查阅", identity_seen="居民身份证原件"
    )
    made += 1
    # 3. the whole cycle: returned and closed
    req = services.approve_access_request(
        request(researcher, [public[3]], purpose="evidence"), acting_user=desk
    )
    services.retrieve_access_request(req, acting_user=keeper)
    (loan,) = services.check_out_access_request(req, acting_user=desk)
    services.return_loan(loan, acting_user=keeper, counted=public[3].pages or 1)
    services.close_access_request(req, acting_user=desk)
    made += 1
    # 4. rejected, with a reason
    services.reject_access_request(
        request(researcher, [public[4]], method="excerpt", purpose="work"),
        acting_user=desk,
        reason="利用目的与档案内容无关",
    )
    made += 1
    # 5. a copy of 12 pages, certified: waits at the desk
    request(researcher, [public[5]], method="copying", certified=True, note="落实政策")
    made += 1
    # 6. partly approved
    req = request(researcher, [public[6], public[7]])
    first = req.lines.order_by("pk").first()
    services.decide_access_request(
        req, acting_user=desk, approve=[first.pk], reason="原件破损，暂停利用"
    )
    made += 1
    # 7. a controlled record requested by staff, approved by the approver
    controlled = (
        Item.objects.visible_to(keeper)
        .filter(access_status=AccessStatus.CONTROLLED, classification=0)
        .order_by("pk")
        .first()
    )
    if controlled is not None:
        services.approve_access_request(
            request(keeper, [controlled], note="库房核对"), acting_user=approver
        )
        made += 1
    # 8. a classified record: first approver done, waiting for the second
    secret = Item.objects.visible_to(admin).filter(classification=1).order_by("pk").first()
    if secret is not None and approver.clearance >= 1:
        req = request(admin, [secret], note="专题研究")
        services.approve_access_request(req, acting_user=approver)
        made += 1
    out.write(f"demo access requests: {made}")
