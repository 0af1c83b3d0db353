"""Business rules of access requests, approvals, loans, renewals, reminders and check-in."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core import mail

from accounts.models import AuditLog
from borrowing import services
from borrowing.choices import LineDecision, RequestState
from borrowing.models import AccessRequest, ApprovalRule, IllegalTransition, Loan, Reminder

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are matched in English here (the interface default is Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def approve_all(req, *users):
    for user in users:
        req = services.approve_access_request(req, acting_user=user)
    return req


# --- requests ------------------------------------------------------------------------------


def test_researcher_requests_an_open_record_and_identity_is_stored_masked(
    researcher, records, make_request
):
    req = make_request(researcher, [records["open"]])
    assert req.state == RequestState.SUBMITTED
    assert req.id_number_last4 == "1234"
    assert req.masked_id_number == "********1234"
    assert "110101199001061234" not in str(AccessRequest.objects.filter(pk=req.pk).values().get())
    assert steps(req.chain) == [{"role": "front_desk", "clearance": 0}]
    assert req.chain[0]["reason"] == "Open records: front desk"
    assert AuditLog.objects.filter(action="borrowing.request.submitted").count() == 1


@pytest.mark.parametrize("kind", ["controlled", "secret", "top"])
def test_researcher_cannot_request_a_record_they_cannot_see(
    researcher, records, make_request, kind
):
    with pytest.raises(services.BorrowingError, match="cannot request this record"):
        make_request(researcher, [records[kind]])
    assert not AccessRequest.objects.exists()


def test_public_request_needs_identity(researcher, records, today):
    with pytest.raises(services.BorrowingError, match="identity document"):
        services.create_access_request(
            acting_user=researcher,
            records=[records["open"]],
            purpose="research",
            date_from=today,
            date_to=today,
        )


def test_dates_in_the_past_are_refused(researcher, records, today):
    with pytest.raises(services.BorrowingError, match="past"):
        services.create_access_request(
            acting_user=researcher,
            records=[records["open"]],
            purpose="research",
            date_from=today - dt.timedelta(days=1),
            date_to=today,
            id_document_type="passport",
            id_number="E12345678",
        )


# --- the approval chain -------------------------------------------------------------------


def steps(chain):
    return [{"role": s["role"], "clearance": s["clearance"]} for s in chain]


def test_chain_follows_the_most_restrictive_record(records):
    assert steps(services.compute_chain([records["open"]], "reading")) == [
        {"role": "front_desk", "clearance": 0}
    ]
    assert steps(services.compute_chain([records["open"], records["controlled"]], "copying")) == [
        {"role": "approver", "clearance": 0}
    ]
    assert steps(services.compute_chain([records["open"], records["secret"]], "reading")) == [
        {"role": "approver", "clearance": 1},
        {"role": "approver", "clearance": 1},
    ]
    # Lending originals: an approver, then a senior approver (the settings' two steps).
    assert steps(services.compute_chain([records["open"]], ["reading", "lending"])) == [
        {"role": "approver", "clearance": 0},
        {"role": "approver", "clearance": 0},
    ]


def test_rule_table_is_configurable(records):
    ApprovalRule.objects.filter(access_status="controlled").update(steps=2)
    assert len(services.compute_chain([records["controlled"]], "reading")) == 2
    # Even a table that forgets it cannot let lending pass without an approver.
    ApprovalRule.objects.exclude(role="front_desk").delete()
    assert services.compute_chain([records["open"]], "lending")[0]["role"] == "approver"


def test_front_desk_approves_open_records(researcher, front_desk, records, make_request):
    req = make_request(researcher, [records["open"], records["open2"]])
    req = services.approve_access_request(req, acting_user=front_desk)
    assert req.state == RequestState.APPROVED
    decision = req.decisions.get()
    assert decision.decided_by == front_desk and len(decision.approved_lines) == 2
    assert AuditLog.objects.filter(action="borrowing.request.decided").count() == 1


def test_front_desk_cannot_approve_controlled(
    front_desk, approver_secret, records, make_request, staff_see_fonds, keeper
):
    req = make_request(keeper, [records["controlled"]])
    with pytest.raises(services.NotAllowed, match="approver"):
        services.approve_access_request(req, acting_user=front_desk)
    req = services.approve_access_request(req, acting_user=approver_secret)
    assert req.state == RequestState.APPROVED


def test_classified_needs_two_different_approvers_each_cleared(
    keeper, approver_secret, approver2, admin, records, make_request, staff_see_fonds
):
    keeper.clearance = 1
    keeper.save()
    req = make_request(keeper, [records["secret"]])
    req = services.approve_access_request(req, acting_user=approver_secret)
    assert req.state == RequestState.UNDER_REVIEW
    with pytest.raises(services.NotAllowed, match="different approver"):
        services.approve_access_request(req, acting_user=approver_secret)
    req = services.approve_access_request(req, acting_user=approver2)
    assert req.state == RequestState.APPROVED
    assert list(req.decisions.values_list("step", flat=True)) == [1, 2]


def test_approving_above_ones_clearance_is_refused(
    admin, approver_secret, records, make_request, staff_see_fonds
):
    req = make_request(admin, [records["top"]])
    with pytest.raises(services.NotAllowed, match="clearance"):
        services.approve_access_request(req, acting_user=approver_secret)
    assert req.decisions.count() == 0


def test_nobody_approves_their_own_request(approver_secret, records, make_request):
    req = make_request(approver_secret, [records["open"]])
    with pytest.raises(services.NotAllowed, match="own request"):
        services.approve_access_request(req, acting_user=approver_secret)
    req.refresh_from_db()
    assert req.state == RequestState.SUBMITTED


def test_partial_approval_needs_a_reason_and_records_refused_lines(
    researcher, front_desk, records, make_request
):
    req = make_request(researcher, [records["open"], records["open2"]])
    first, second = req.lines.all()
    with pytest.raises(services.BorrowingError, match="reason"):
        services.decide_access_request(req, acting_user=front_desk, approve=[first.pk])
    req = services.decide_access_request(
        req, acting_user=front_desk, approve=[first.pk], reason="原件破损"
    )
    assert req.state == RequestState.PARTLY_APPROVED
    second.refresh_from_db()
    assert second.decision == LineDecision.REFUSED and second.refusal_reason == "原件破损"


def test_rejection(researcher, front_desk, records, make_request):
    req = make_request(researcher, [records["open"]])
    req = services.reject_access_request(req, acting_user=front_desk, reason="用途不明")
    assert req.state == RequestState.REJECTED
    with pytest.raises(IllegalTransition):
        services.retrieve_access_request(req, acting_user=front_desk)


# --- state machine ---------------------------------------------------------------------------


def test_illegal_transitions_are_refused_with_a_clear_message(
    researcher, front_desk, records, make_request, today
):
    req = make_request(researcher, [records["open"]])
    with pytest.raises(IllegalTransition, match="“Submitted” cannot become “Checked out”"):
        services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    with pytest.raises(IllegalTransition):
        services.retrieve_access_request(req, acting_user=front_desk)


def test_cancel_before_check_out_only(researcher, front_desk, records, make_request, today):
    req = make_request(researcher, [records["open"]])
    req = services.cancel_access_request(req, acting_user=researcher)
    assert req.state == RequestState.CANCELLED
    req = make_request(researcher, [records["open"]])
    req = approve_all(req, front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    with pytest.raises(IllegalTransition):
        services.cancel_access_request(req, acting_user=researcher)


def test_other_researcher_cannot_cancel(researcher, researcher2, records, make_request):
    req = make_request(researcher, [records["open"]])
    with pytest.raises(services.NotAllowed):
        services.cancel_access_request(req, acting_user=researcher2)


# --- loans -----------------------------------------------------------------------------------


@pytest.fixture
def checked_out(researcher, front_desk, records, make_request, today):
    req = approve_all(make_request(researcher, [records["open"]]), front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    (loan,) = services.check_out_access_request(
        req, acting_user=front_desk, due_date=today + dt.timedelta(days=7), conditions="阅览室内"
    )
    return loan


def test_full_cycle_with_audit(checked_out, front_desk):
    loan = checked_out
    assert loan.request.state == RequestState.CHECKED_OUT
    services.return_loan(loan, acting_user=front_desk, counted=1)
    loan.request.refresh_from_db()
    assert loan.request.state == RequestState.RETURNED
    services.close_access_request(loan.request, acting_user=front_desk)
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {
        "borrowing.loan.checked_out",
        "borrowing.loan.returned",
        "borrowing.request.closed",
    } <= actions


def test_returning_a_record_not_on_loan(checked_out, front_desk):
    services.return_loan(checked_out, acting_user=front_desk, counted=1)
    with pytest.raises(services.Conflict, match="not on loan"):
        services.return_loan(checked_out, acting_user=front_desk, counted=1)


def test_one_active_loan_per_record(
    checked_out, researcher2, front_desk, records, make_request, today
):
    req = approve_all(make_request(researcher2, [records["open"]]), front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    with pytest.raises(services.Conflict, match="already on loan"):
        services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    req.refresh_from_db()
    assert req.state == RequestState.RETRIEVED
    assert Loan.objects.active().count() == 1


def test_due_date_in_the_past(researcher, front_desk, records, make_request, today):
    req = approve_all(make_request(researcher, [records["open"]]), front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    with pytest.raises(services.BorrowingError, match="past"):
        services.check_out_access_request(
            req, acting_user=front_desk, due_date=today - dt.timedelta(days=1)
        )
    assert not Loan.objects.exists()


def test_renewals_up_to_the_limit(checked_out, researcher):
    loan = checked_out
    for _ in range(services.MAX_RENEWALS):
        loan = services.renew_loan(loan, acting_user=researcher)
    with pytest.raises(services.BorrowingError, match="limit"):
        services.renew_loan(loan, acting_user=researcher)
    assert AuditLog.objects.filter(action="borrowing.loan.renewed").count() == services.MAX_RENEWALS


def test_others_cannot_renew(checked_out, researcher2):
    with pytest.raises(services.NotAllowed):
        services.renew_loan(checked_out, acting_user=researcher2)


def test_overdue_reminders_are_sent_once(checked_out, django_capture_on_commit_callbacks, today):
    checked_out.borrower.email = "r@example.org"
    checked_out.borrower.save()
    later = today + dt.timedelta(days=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_overdue_reminders(today=later) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_overdue_reminders(today=later + dt.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1 and "J012-WS·2019-Y-BGS-0001" in mail.outbox[0].subject
    assert Reminder.objects.count() == 1
    checked_out.request.refresh_from_db()
    assert checked_out.request.state == RequestState.OVERDUE


def test_reminder_job_command_runs(checked_out):
    from django.core.management import call_command

    with time_machine.travel(dt.datetime(2099, 1, 1, 12, tzinfo=dt.UTC)):
        call_command("send_overdue_reminders")
    assert Reminder.objects.count() == 1


# --- check-in scans --------------------------------------------------------------------------


def test_checkin_scan_returns_and_a_replay_changes_nothing(checked_out, keeper):
    scan_id = uuid.uuid4()
    code = services.record_code(checked_out.record)
    first = services.process_checkin_scan(
        acting_user=keeper, scan_id=scan_id, kind="return", code=code
    )
    assert first.status == 200 and first.body["action"] == "returned"
    again = services.process_checkin_scan(
        acting_user=keeper, scan_id=scan_id, kind="return", code=code
    )
    assert again.status == 200 and again.body["replayed"] is True
    assert again.body["loan"] == first.body["loan"]
    assert AuditLog.objects.filter(action="borrowing.loan.returned").count() == 1
    other = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    assert other.status == 409 and "not on loan" in other.body["detail"]


def test_a_refused_scan_is_kept_and_its_resend_answers_the_same(checked_out, keeper):
    """A refused scan changes nothing but is remembered: resent, it answers the first refusal
    even after the situation changed (the phone must not see a different outcome)."""
    from borrowing.models import Scan

    code = services.record_code(checked_out.record)
    scan_id = uuid.uuid4()
    refused = services.process_checkin_scan(
        acting_user=keeper, scan_id=scan_id, kind="shelve", code=code, position="R1-A-01"
    )
    assert refused.status == 409 and refused.body["code"] == "still_on_loan"
    assert Scan.objects.get(scan_id=scan_id).status_code == 409
    services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    again = services.process_checkin_scan(
        acting_user=keeper, scan_id=scan_id, kind="shelve", code=code, position="R1-A-01"
    )
    assert again.status == 409 and again.body["replayed"] is True
    assert not AuditLog.objects.filter(action="borrowing.record.reshelved").exists()


def test_a_resent_reshelving_scan_leaves_no_second_audit_row(checked_out, keeper, shelf):
    code = services.record_code(checked_out.record)
    services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    scan_id = uuid.uuid4()
    for _ in range(2):
        result = services.process_checkin_scan(
            acting_user=keeper, scan_id=scan_id, kind="shelve", code=code, position=shelf[0].code
        )
        assert result.status == 200
    assert result.body["replayed"] is True
    assert AuditLog.objects.filter(action="borrowing.record.reshelved").count() == 1
    from repository.models import Move

    assert Move.objects.filter(item=checked_out.record).count() == 1


def test_a_return_scan_takes_a_bounded_number_of_queries(
    checked_out, keeper, django_assert_max_num_queries
):
    """The phone waits on this: record, locked loan + request, the updates and audit rows,
    the scan row — no per-relation look-ups (was 17–20 statements)."""
    code = services.record_code(checked_out.record)
    keeper.access_facts()
    with django_assert_max_num_queries(10):
        result = services.process_checkin_scan(
            acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
        )
    assert result.status == 200


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [("I99999999", 404, "No record"), ("<script>", 400, "not a valid"), ("", 400, "not a valid")],
)
def test_unknown_or_malformed_codes(keeper, records, code, status, message):
    result = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    assert result.status == status and message in result.body["detail"]


def test_reshelving_checks_the_expected_position(checked_out, keeper, shelf):
    record = checked_out.record
    code = services.record_code(record)
    services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    right = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="shelve", code=code, position=shelf[2].code
    )
    assert right.body["matches"] is True
    wrong = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="shelve", code=code, position=shelf[0].code
    )
    assert wrong.status == 200 and wrong.body["matches"] is False
    assert wrong.body["expected_position"] == shelf[2].code and wrong.body["moved"] is True
    # the mismatch is recorded as a move through the repository's service
    from repository.models import Move

    move = Move.objects.get(item=record)
    assert (move.from_position, move.to_position, move.moved_by) == (shelf[2], shelf[0], keeper)
    record.refresh_from_db()
    assert record.position == shelf[0]
    assert AuditLog.objects.filter(action="borrowing.record.reshelved").count() == 2


def test_researchers_cannot_scan(researcher):
    with pytest.raises(services.NotAllowed):
        services.process_checkin_scan(
            acting_user=researcher, scan_id=uuid.uuid4(), kind="return", code="I1"
        )


def test_reshelving_at_an_unknown_position_changes_nothing(checked_out, keeper, shelf):
    record = checked_out.record
    code = services.record_code(record)
    services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    result = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="shelve", code=code, position="K99-NOPE"
    )
    assert result.status == 400 and "K99-NOPE" in result.body["detail"]
    record.refresh_from_db()
    assert record.position == shelf[2]
    assert not AuditLog.objects.filter(action="borrowing.record.reshelved").exists()


def _moved_shelving(checked_out, keeper, shelf):
    """Return the loan, then shelve it on the wrong shelf (shelf[1]; it belongs on shelf[2])."""
    code = services.record_code(checked_out.record)
    services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="return", code=code
    )
    result = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="shelve", code=code, position=shelf[1].code
    )
    assert result.body["moved"] is True and result.body["move"] and result.body["undo_until"]
    return uuid.UUID(result.body["scan_id"])


def test_undo_shelving_moves_the_record_back_and_keeps_the_history(checked_out, keeper, shelf):
    from repository.models import Move

    scan_id = _moved_shelving(checked_out, keeper, shelf)
    body = services.undo_shelving(scan_id, keeper)
    assert body["action"] == "undone" and body["position"] == shelf[2].code
    record = checked_out.record
    record.refresh_from_db()
    assert record.position == shelf[2]
    moves = list(Move.objects.filter(item=record).order_by("pk"))
    assert [(m.from_position, m.to_position) for m in moves] == [
        (shelf[2], shelf[1]),
        (shelf[1], shelf[2]),
    ]
    assert "撤销" in moves[1].reason
    audit = AuditLog.objects.get(action="borrowing.record.reshelving_undone")
    assert audit.actor == keeper and audit.note == str(scan_id)
    with pytest.raises(services.Conflict, match="already been undone"):
        services.undo_shelving(scan_id, keeper)
    assert Move.objects.filter(item=record).count() == 2


def test_undo_shelving_refused_after_the_window_by_another_user_or_when_nothing_moved(
    checked_out, keeper, front_desk, shelf, settings
):
    from core import errors
    from repository.models import Move

    scan_id = _moved_shelving(checked_out, keeper, shelf)
    with pytest.raises(errors.NotAllowed, match="Only whoever"):
        services.undo_shelving(scan_id, front_desk)
    settings.UNDO_WINDOW_SECONDS = 120
    later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=121)
    with time_machine.travel(later), pytest.raises(errors.Conflict, match="Too late"):
        services.undo_shelving(scan_id, keeper)
    with pytest.raises(errors.NotFound):
        services.undo_shelving(uuid.uuid4(), keeper)
    # A shelving where it belongs moved nothing: nothing to undo.
    code = services.record_code(checked_out.record)
    right = services.process_checkin_scan(
        acting_user=keeper, scan_id=uuid.uuid4(), kind="shelve", code=code, position=shelf[1].code
    )
    assert right.body["moved"] is False
    with pytest.raises(errors.Conflict, match="Nothing to undo"):
        services.undo_shelving(uuid.UUID(right.body["scan_id"]), keeper)
    assert Move.objects.filter(item=checked_out.record).count() == 1
    assert not AuditLog.objects.filter(action="borrowing.record.reshelving_undone").exists()


def test_undo_shelving_api(checked_out, keeper, front_desk, shelf, client_for):
    scan_id = _moved_shelving(checked_out, keeper, shelf)
    url = f"/api/v1/borrowing/checkin/scans/{scan_id}/undo/"
    assert client_for(front_desk).post(url).status_code == 403
    response = client_for(keeper).post(url)
    assert response.status_code == 200 and response.json()["position"] == shelf[2].code
    assert client_for(keeper).post(url).status_code == 409
