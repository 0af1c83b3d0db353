"""50 concurrent check-outs of one record on PostgreSQL: exactly one succeeds."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from accounts.models import User
from borrowing import services
from borrowing.choices import LineDecision, RequestState, UserType
from borrowing.models import AccessRequest, Loan, RequestLine
from tests.gates import require_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.service("postgres")]

CLIENTS = 50


def test_fifty_concurrent_check_outs_of_one_record(records, front_desk, today):
    require_postgresql()
    record = records["open"]
    borrowers = User.objects.bulk_create(
        User(username=f"reader{i}", password="!") for i in range(CLIENTS)
    )
    requests = []
    for borrower in borrowers:
        req = AccessRequest.objects.create(
            requester=borrower,
            user_type=UserType.RESEARCHER,
            purpose="reading",
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
        except Exception as exc:  # noqa: BLE001 - reported in the assertion below
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
