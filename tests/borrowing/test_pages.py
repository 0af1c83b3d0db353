"""Pages, PDFs and API: contract tests and a leak test for every persona through every door."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from accounts.models import AuditLog, ReaderProfile
from borrowing import services
from borrowing.choices import RequestState
from borrowing.models import AccessRequest
from tests.pdf import pdf_has_cjk_font

pytestmark = pytest.mark.django_db

PERSONAS = [
    "public",
    "researcher",
    "front_desk",
    "keeper",
    "archivist_a",
    "approver_secret",
    "admin",
    "outsider",
]


@pytest.fixture
def open_request(researcher, records, make_request):
    return make_request(researcher, [records["open"], records["open2"]])


@pytest.fixture
def secret_request(admin, records, make_request, staff_see_fonds):
    return make_request(admin, [records["secret"]])


# --- leak tests ------------------------------------------------------------------------------

DESK_PERSONAS = {"front_desk", "keeper", "approver_secret", "admin"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_doors_per_persona(personas, client_for, open_request, secret_request, persona):
    """Staff handling requests see every request; anyone else sees only their own, and a
    forbidden request answers 404 exactly like a missing one — page, API and PDF."""
    client = client_for(personas[persona])
    own = persona == "researcher"
    desk = persona in DESK_PERSONAS
    cleared = {"approver_secret", "admin"}  # the secret request is above the others' clearance
    for req in (open_request, secret_request):
        mine = req.requester == personas[persona]
        sees = desk and (req == open_request or persona in cleared)
        page = client.get(f"/staff/borrowing/requests/{req.pk}/")
        slip = client.get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
        api = client.get(f"/api/v1/borrowing/requests/{req.pk}/")
        if sees:
            # The slip is printed only once the request is approved (these wait for a decision).
            assert page.status_code == 200 and slip.status_code == 409 and api.status_code == 200
        elif desk:
            assert (page.status_code, slip.status_code, api.status_code) == (404, 404, 404)
        else:
            assert page.status_code in (302, 404) and slip.status_code in (302, 404)
            expected = (
                200
                if (mine or (own and req == open_request))
                else (403 if persona == "public" else 404)
            )
            assert api.status_code == expected, (persona, req.number, api.status_code)
    listing = client.get("/api/v1/borrowing/requests/")
    if persona == "public":
        assert listing.status_code == 403
    else:
        numbers = {row["number"] for row in listing.json()["results"]}
        if persona in cleared:
            assert numbers == {open_request.number, secret_request.number}
        elif desk or own:  # staff below the secret request's level, or its owner's peer
            assert numbers == {open_request.number}
        else:
            assert numbers == set()
    missing = client.get("/api/v1/borrowing/requests/999999/")
    assert missing.status_code == (403 if persona == "public" else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_queue_and_checkin_pages_per_persona(personas, client_for, open_request, persona):
    client = client_for(personas[persona])
    queue = client.get("/staff/borrowing/?state=submitted")
    checkin = client.get("/m/checkin/")
    stats = client.get("/staff/borrowing/statistics/")
    if persona == "public":
        assert queue.status_code == 302 and checkin.status_code == 302
        return
    if persona in DESK_PERSONAS:
        assert queue.status_code == 200 and open_request.number in queue.content.decode()
    else:
        assert queue.status_code == 404
    assert checkin.status_code == (200 if persona in {"front_desk", "keeper", "admin"} else 404)
    assert stats.status_code == (
        200 if persona in {"front_desk", "approver_secret", "admin"} else 404
    )
    retrieval = client.get("/staff/borrowing/retrieval/")
    retrieval_pdf = client.get("/staff/borrowing/retrieval/?format=pdf")
    stats_csv = client.get("/staff/borrowing/statistics/?format=csv")
    fetchers = {"front_desk", "keeper", "admin"}
    assert retrieval.status_code == (200 if persona in fetchers else 404)
    assert retrieval_pdf.status_code == (200 if persona in fetchers else 404)
    stats_roles = {"front_desk", "approver_secret", "admin"}
    assert stats_csv.status_code == (200 if persona in stats_roles else 404)


def test_identity_number_is_never_shown_in_full(client_for, front_desk, open_request):
    html = (
        client_for(front_desk).get(f"/staff/borrowing/requests/{open_request.pk}/").content.decode()
    )
    assert "********1234" in html and "110101199001061234" not in html
    api = client_for(front_desk).get(f"/api/v1/borrowing/requests/{open_request.pk}/").json()
    assert api["id_number_masked"] == "********1234" and "id_number" not in api


# --- public side ----------------------------------------------------------------------------


def test_researcher_submits_from_a_record_and_follows_status(
    client_for, researcher, records, today
):
    client = client_for(researcher)
    url = f"/requests/new/?item={records['open'].pk}"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "purpose": "research",
            "method-0": "reading",
            "date_from": today,
            "id_document_type": "resident_id",
            "id_number": "110101199001061234",
            "id_document_expires": "2040-01-01",
        },
    )
    req = AccessRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{req.pk}/"
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert req.number in page
    assert client.get("/requests/").status_code == 200


@pytest.mark.parametrize("kind", ["controlled", "secret", "top"])
def test_researcher_cannot_open_the_request_form_for_a_hidden_record(
    client_for, researcher, records, kind
):
    assert client_for(researcher).get(f"/requests/new/?item={records[kind].pk}").status_code == 404


def test_other_users_request_is_404(client_for, researcher2, open_request):
    assert client_for(researcher2).get(f"/requests/{open_request.pk}/").status_code == 404


def test_api_refuses_a_hidden_record(client_for, researcher, records, today):
    response = client_for(researcher).post(
        "/api/v1/borrowing/requests/",
        {
            "records": [f"I{records['secret'].pk}"],
            "purpose": "reading",
            "date_from": str(today),
            "date_to": str(today),
            "id_document_type": "passport",
            "id_number": "E1234567",
        },
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["code"] == "record_not_visible"
    assert response.json()["detail"] == "您不能申请利用这件档案。"
    assert not AccessRequest.objects.exists()


# --- front desk -----------------------------------------------------------------------------


def test_queue_counts_by_state(client_for, front_desk, admin, open_request, secret_request):
    """The tabs count only the requests the viewer handles: the front desk (not cleared for
    the secret request) counts one, the administrator (cleared, with the fonds) two."""
    html = client_for(front_desk).get("/staff/borrowing/").content.decode()
    assert 'data-state="submitted">1<' in html
    assert f'href="/staff/borrowing/requests/{open_request.pk}/"' in html
    assert f'href="/staff/borrowing/requests/{secret_request.pk}/"' not in html
    html = client_for(admin).get("/staff/borrowing/").content.decode()
    assert 'data-state="submitted">2<' in html


def test_queue_query_count_is_independent_of_size(
    client_for, front_desk, researcher, records, make_request, django_assert_max_num_queries
):
    for _ in range(5):
        make_request(researcher, [records["open"]])
    client = client_for(front_desk)
    with django_assert_max_num_queries(12):
        assert client.get("/staff/borrowing/").status_code == 200


def test_detail_warns_of_expired_identity_and_record_on_loan(
    client_for, front_desk, researcher, researcher2, records, make_request, today
):
    req = make_request(researcher, [records["open"]])
    req = services.approve_access_request(req, acting_user=front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    services.check_out_access_request(req, acting_user=front_desk)
    # The document expires after the visit: the next look at the request warns.
    ReaderProfile.objects.filter(user=researcher).update(
        id_document_expires=today - dt.timedelta(days=1)
    )
    other = make_request(researcher2, [records["open"]])
    html = client_for(front_desk).get(f"/staff/borrowing/requests/{other.pk}/").content.decode()
    assert "on loan to another request" in html or "借出" in html
    html = client_for(front_desk).get(f"/staff/borrowing/requests/{req.pk}/").content.decode()
    assert "expired" in html or "过期" in html


def test_approve_through_the_page_and_self_approval_refused(client_for, front_desk, open_request):
    client = client_for(front_desk)
    ids = list(open_request.lines.values_list("pk", flat=True))
    client.post(f"/staff/borrowing/requests/{open_request.pk}/decide/", {"approve": ids})
    open_request.refresh_from_db()
    assert open_request.state == RequestState.APPROVED
    own = services.create_access_request(
        acting_user=front_desk,
        records=[open_request.lines.first().record],
        purpose="research",
        date_from=open_request.date_from,
        date_to=open_request.date_to,
    )
    response = client.post(
        f"/staff/borrowing/requests/{own.pk}/decide/", {"approve": []}, follow=True
    )
    own.refresh_from_db()
    assert own.state == RequestState.SUBMITTED
    assert "own request" in response.content.decode() or "本人" in response.content.decode()


def test_full_flow_pdfs_and_receipt(client_for, front_desk, open_request, today):
    services.approve_access_request(open_request, acting_user=front_desk)
    services.retrieve_access_request(open_request, acting_user=front_desk)
    client = client_for(front_desk)
    client.post(
        f"/staff/borrowing/requests/{open_request.pk}/checkout/",
        {"due_date": today + dt.timedelta(days=5)},
    )
    open_request.refresh_from_db()
    assert open_request.state == RequestState.CHECKED_OUT
    assert client.get(f"/staff/borrowing/requests/{open_request.pk}/receipt.pdf").status_code == 404
    for loan in open_request.loans.all():
        client.post(f"/staff/borrowing/loans/{loan.pk}/return/", {"counted": 4})
    open_request.refresh_from_db()
    assert open_request.state == RequestState.RETURNED
    receipt = client.get(f"/staff/borrowing/requests/{open_request.pk}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
    assert pdf_has_cjk_font(receipt.content)


def test_retrieval_list_is_in_shelf_order(client_for, keeper, front_desk, open_request, shelf):
    services.approve_access_request(open_request, acting_user=front_desk)
    response = client_for(keeper).get("/staff/borrowing/retrieval/")
    html = response.content.decode()
    # open2 sits on layer 1, open on layer 3: shelf order puts open2 first.
    assert html.index("BGS-0002") < html.index("BGS-0001")
    pdf = client_for(keeper).get("/staff/borrowing/retrieval/?format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_statistics_page_and_csv(client_for, front_desk, open_request):
    services.approve_access_request(open_request, acting_user=front_desk)
    services.retrieve_access_request(open_request, acting_user=front_desk)
    services.check_out_access_request(open_request, acting_user=front_desk)  # now a use
    client = client_for(front_desk)
    year = open_request.submitted_at.year
    page = client.get(f"/staff/borrowing/statistics/?year={year}")
    assert page.status_code == 200 and "usage-series" in page.content.decode()
    csv = client.get(f"/staff/borrowing/statistics/?year={year}&format=csv").content.decode(
        "utf-8-sig"
    )
    assert "purpose" in csv and "J012" in csv and "researcher" in csv.lower() or "利用者" in csv
    assert client.get("/staff/borrowing/statistics/?year=abc").status_code == 200


# --- check-in API ---------------------------------------------------------------------------


def test_checkin_api_is_idempotent(client_for, keeper, front_desk, open_request, today):
    services.approve_access_request(open_request, acting_user=front_desk)
    services.retrieve_access_request(open_request, acting_user=front_desk)
    services.check_out_access_request(open_request, acting_user=front_desk, due_date=today)
    record = open_request.lines.first().record
    client = client_for(keeper)
    code = services.record_code(record)
    lookup = client.get(f"/api/v1/borrowing/checkin/lookup/?code={code}")
    assert lookup.status_code == 200 and lookup.json()["reference_code"] == record.reference_code
    body = {"scan_id": str(uuid.uuid4()), "kind": "return", "code": code}
    first = client.post("/api/v1/borrowing/checkin/scans/", body, content_type="application/json")
    second = client.post("/api/v1/borrowing/checkin/scans/", body, content_type="application/json")
    assert first.status_code == 200 and second.status_code == 200
    assert second.json()["replayed"] is True and first.json()["loan"] == second.json()["loan"]
    assert AuditLog.objects.filter(action="borrowing.loan.returned").count() == 1
    bad = client.post(
        "/api/v1/borrowing/checkin/scans/",
        {"scan_id": "nope", "kind": "return", "code": code},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert client.get("/api/v1/borrowing/checkin/lookup/?code=<x>").status_code == 400


@pytest.mark.parametrize("persona", ["researcher", "archivist_a", "approver_secret", "outsider"])
def test_checkin_api_is_404_for_non_checkin_staff(personas, client_for, persona):
    client = client_for(personas[persona])
    assert client.get("/api/v1/borrowing/checkin/lookup/?code=I1").status_code == 404
    body = {"scan_id": str(uuid.uuid4()), "kind": "return", "code": "I1"}
    assert (
        client.post(
            "/api/v1/borrowing/checkin/scans/", body, content_type="application/json"
        ).status_code
        == 404
    )


def test_api_flow_decide_checkout_renew(client_for, front_desk, researcher, open_request, today):
    client = client_for(front_desk)
    ids = list(open_request.lines.values_list("pk", flat=True))
    r = client.post(
        f"/api/v1/borrowing/requests/{open_request.pk}/decide/",
        {"approve": ids},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["state"] == "approved"
    r = client.post(
        f"/api/v1/borrowing/requests/{open_request.pk}/check_out/",
        {"due_date": str(today)},
        content_type="application/json",
    )
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    assert "不能变为" in r.json()["detail"]
    client.post(f"/api/v1/borrowing/requests/{open_request.pk}/retrieve_records/")
    r = client.post(
        f"/api/v1/borrowing/requests/{open_request.pk}/check_out/",
        {"due_date": str(today - dt.timedelta(days=1))},
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["code"] == "due_in_past"
    r = client.post(
        f"/api/v1/borrowing/requests/{open_request.pk}/check_out/",
        {"due_date": str(today)},
        content_type="application/json",
    )
    assert r.status_code == 200
    loan_id = client_for(researcher).get("/api/v1/borrowing/loans/").json()["results"][0]["id"]
    r = client_for(researcher).post(
        f"/api/v1/borrowing/loans/{loan_id}/renew/", {}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["renewals"] == 1


def test_detail_warns_of_an_open_climate_alarm_in_the_records_room(
    client_for, front_desk, open_request, shelf
):
    from django.utils import timezone

    from storage_env.models import Alarm

    Alarm.objects.create(
        rule="humidity",
        subject="room:K01",
        room=shelf[0].room,
        message="RH 72%",
        raised_at=timezone.now(),
    )
    html = (
        client_for(front_desk).get(f"/staff/borrowing/requests/{open_request.pk}/").content.decode()
    )
    assert "所在库房有未解除的温湿度报警" in html


def test_stocktake_knows_what_is_on_loan(researcher, front_desk, records, make_request, today):
    from repository.stocktake import records_out_on_loan

    req = services.approve_access_request(
        make_request(researcher, [records["open"]]), acting_user=front_desk
    )
    services.retrieve_access_request(req, acting_user=front_desk)
    services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    assert records_out_on_loan(set(), {records["open"].pk, records["open2"].pk}) == {
        ("item", records["open"].pk)
    }


def test_an_overdue_loan_can_still_be_returned(
    researcher, front_desk, records, make_request, today
):
    req = make_request(researcher, [records["open"]])
    req = services.approve_access_request(req, acting_user=front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    (loan,) = services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    services.send_overdue_reminders(today=today + dt.timedelta(days=2))
    req.refresh_from_db()
    assert req.state == RequestState.OVERDUE
    services.return_loan(loan, acting_user=front_desk, counted=1)
    req.refresh_from_db()
    assert req.state == RequestState.RETURNED


def test_state_counts_are_capped(researcher, records, make_request):
    for _ in range(3):
        make_request(researcher, [records["open"]])
    counts = AccessRequest.objects.capped_state_counts(["submitted", "closed"], 2)
    assert counts == {"submitted": 2, "closed": 0}


def test_classified_records_do_not_leak_through_retrieval_loans_or_check_in(
    client_for, secret_request, approver_secret, approver2, admin, front_desk, keeper, today
):
    services.approve_access_request(secret_request, acting_user=approver_secret)
    services.approve_access_request(secret_request, acting_user=approver2)
    title = secret_request.lines.get().record.title
    assert title not in client_for(keeper).get("/staff/borrowing/retrieval/").content.decode()
    assert title in client_for(admin).get("/staff/borrowing/retrieval/").content.decode()
    services.retrieve_access_request(secret_request, acting_user=admin)
    services.check_out_access_request(secret_request, acting_user=admin, due_date=today)
    assert client_for(front_desk).get("/api/v1/borrowing/loans/").json()["results"] == []
    assert len(client_for(admin).get("/api/v1/borrowing/loans/").json()["results"]) == 1
    code = services.record_code(secret_request.lines.get().record)
    lookup = client_for(keeper).get(f"/api/v1/borrowing/checkin/lookup/?code={code}")
    assert lookup.status_code == 404 and title not in lookup.content.decode()
    assert (
        client_for(admin).get(f"/api/v1/borrowing/checkin/lookup/?code={code}").status_code == 200
    )


def test_reject_all_through_the_page_needs_a_reason(client_for, front_desk, open_request):
    client = client_for(front_desk)
    url = f"/staff/borrowing/requests/{open_request.pk}/decide/"
    ids = list(open_request.lines.values_list("pk", flat=True))
    client.post(url, {"approve": ids, "reject": "1"})
    open_request.refresh_from_db()
    assert open_request.state == RequestState.SUBMITTED  # no reason: refused, nothing changed
    client.post(url, {"approve": ids, "reject": "1", "reason": "用途不符"})
    open_request.refresh_from_db()
    assert open_request.state == RequestState.REJECTED
    assert set(open_request.lines.values_list("refusal_reason", flat=True)) == {"用途不符"}


def test_desk_counts_are_planned_without_jit(front_desk, records, researcher, make_request):
    """PostgreSQL would JIT-compile the desk's capped counts (their estimated cost crosses
    ``jit_above_cost`` once the door's anti-join is priced per request): 1.1 s of compilation
    for a 45 ms query. The counts run with ``jit = off`` for their transaction only."""
    from django.db import connection

    from borrowing.models import without_jit
    from tests.gates import require_postgresql

    require_postgresql()
    make_request(researcher, [records["open"]])
    seen = []

    def spy(execute, sql, params, many, context):
        if sql.startswith("SELECT (SELECT COUNT(*)"):
            with connection.cursor() as cursor:
                cursor.execute("SHOW jit")
                seen.append(cursor.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        counts = AccessRequest.objects.handled_by(front_desk).capped_state_counts(["submitted"], 5)
    assert counts == {"submitted": 1} and seen == ["off"]
    with without_jit(), connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_where_is_says_a_record_is_on_loan(
    client_for,
    front_desk,
    keeper,
    archivist_a,
    researcher,
    records,
    make_request,
    staff_see_fonds,
    today,
):
    """Where-is (a repository page) tells the keeper not to look on the shelf: on loan, due
    when; the borrower's name only to staff who handle the loan."""
    item = records["open"]
    req = services.approve_access_request(make_request(researcher, [item]), acting_user=front_desk)
    services.retrieve_access_request(req, acting_user=front_desk)
    url = f"/staff/locations/where/?code={item.reference_code}"
    assert "loan-status" not in client_for(keeper).get(url).content.decode()
    services.check_out_access_request(req, acting_user=front_desk, due_date=today)
    html = client_for(archivist_a).get(url).content.decode()  # sees the record, not the loan
    assert "loan-status" in html and today.strftime("%Y-%m-%d") in html
    assert str(researcher) not in html
    html = client_for(keeper).get(url).content.decode()  # handles check-in: sees who has it
    assert "loan-status" in html and str(researcher) in html and req.number in html
