"""50 concurrent check-outs of one record on PostgreSQL: exactly one succeeds."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ReaderProfile, User
from borrowing import services
from borrowing.choices import LineDecision, RequestState, UserType
from borrowing.models import AccessRequest, Loan, RequestLine
from tests.gates import require_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("postgres")]

CLIENTS = 50


def checked_reader(user) -> ReaderProfile:
    """A registered reader whose identity the desk has checked (the visit rule)."""
    return ReaderProfile(
        user=user,
        real_name=user.username,
        id_document_type="passport",
        id_number_last4="4567",
        id_number_digest=f"digest-{user.pk}",
        id_document_expires=dt.date(2040, 1, 1),
        identity_checked_at=timezone.now(),
    )


def test_fifty_concurrent_check_outs_of_one_record(records, front_desk, today):
    require_postgresql()
    record = records["open"]
    borrowers = User.objects.bulk_create(
        User(username=f"reader{i}", password="!") for i in range(CLIENTS)
    )
    ReaderProfile.objects.bulk_create(checked_reader(b) for b in borrowers)
    requests = []
    for borrower in borrowers:
        req = AccessRequest.objects.create(
            requester=borrower,
            user_type=UserType.RESEARCHER,
            state=RequestState.RETRIEVED,
            date_from=today,
            date_to=today,
        )
        RequestLine.objects.create(request=req, item=record, decision=LineDecision.APPROVED)
        requests.append(req)
    barrier = threading.Barrier(CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def check_out(req):
        try:
            barrier.wait()
            services.check_out_access_request(
                req, acting_user=front_desk, due_date=today + dt.timedelta(days=3)
            )
            result = "ok"
        except services.Conflict as exc:
            result = f"conflict: {exc.code}"
        except Exception as exc:
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=check_out, args=(req,)) for req in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == CLIENTS
    assert outcomes.count("ok") == 1, outcomes
    conflicts = [o for o in outcomes if o.startswith("conflict")]
    assert len(conflicts) == CLIENTS - 1, [o for o in outcomes if not o.startswith("conflict")]
    assert all(o == "conflict: on_loan" for o in conflicts)
    assert Loan.objects.active().filter(item=record).count() == 1
    assert AccessRequest.objects.filter(state=RequestState.CHECKED_OUT).count() == 1


def test_concurrent_check_in_scans_return_a_file_once(
    researcher, records, front_desk, keeper, today
):
    """Ten phones send the same scan at once (a resend storm) and ten more scan the same file
    with their own scan ids: exactly one return happens."""
    require_postgresql()
    import uuid

    from accounts.models import AuditLog

    checked_reader(researcher).save()
    req = AccessRequest.objects.create(
        requester=researcher,
        user_type=UserType.RESEARCHER,
        state=RequestState.RETRIEVED,
        date_from=today,
        date_to=today,
    )
    RequestLine.objects.create(request=req, item=records["open"], decision=LineDecision.APPROVED)
    services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    code = services.record_code(records["open"])
    shared = uuid.uuid4()
    scan_ids = [shared] * 10 + [uuid.uuid4() for _ in range(10)]
    barrier = threading.Barrier(len(scan_ids))
    results: list[tuple[object, int, bool]] = []
    lock = threading.Lock()

    def scan(scan_id):
        try:
            barrier.wait()
            result = services.process_checkin_scan(
                acting_user=keeper, scan_id=scan_id, kind="return", code=code
            )
            outcome = (scan_id, result.status, result.body.get("action") == "returned")
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=scan, args=(s,)) for s in scan_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(scan_ids)
    assert AuditLog.objects.filter(action="borrowing.loan.returned").count() == 1
    assert Loan.objects.active().count() == 0
    assert all(status in (200, 409) for _id, status, _done in results), results
    # every copy of the resent scan got the same answer as its first arrival
    assert len({(status, done) for sid, status, done in results if sid == shared}) == 1
