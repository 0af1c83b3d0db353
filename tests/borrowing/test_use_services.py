"""Use services as archives run them: methods per line, purposes, settings, the approver's
inbox, identity at each visit, copies and certificates, returns with a count, effect."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts import readers
from accounts.models import AuditLog, ReaderProfile
from borrowing import services, statistics
from borrowing.choices import RequestState
from borrowing.models import AccessSettings, UsePurpose
from tests.pdf import pdf_text

pytestmark = pytest.mark.django_db

VALID = "11010519491231002X"


def ask(user, lines, purpose="research", **kwargs):
    today = timezone.localdate()
    return services.create_access_request(
        acting_user=user, lines=lines, purpose=purpose, date_from=today, **kwargs
    )


@pytest.fixture
def internal_unit(front_desk):
    return readers.register_walk_in(
        acting_user=front_desk,
        username="office",
        real_name="办公室张三",
        category="internal",
        unit_name="办公室",
        id_document_type="resident_id",
        id_number=VALID,
        id_document_expires=dt.date(2040, 1, 1),
        document_seen="居民身份证",
    )


@pytest.fixture
def registered(researcher):
    ReaderProfile.objects.create(
        user=researcher,
        real_name="李华",
        id_document_type="resident_id",
        id_number_last4="1234",
        id_number_digest="x",
        id_document_expires=dt.date(2040, 1, 1),
    )
    return researcher


# --- methods and purposes --------------------------------------------------------------------


def test_the_purpose_is_recorded_apart_from_each_lines_method(registered, records):
    req = ask(
        registered,
        [
            {"record": records["open"], "method": "reading"},
            {"record": records["open2"], "method": "copying", "copy_pages": 12, "certified": True},
        ],
        purpose="history",
    )
    assert req.purpose.name == "编史修志"
    assert dict(req.lines.values_list("method", "copy_pages")) == {"reading": None, "copying": 12}
    assert req.date_to == req.date_from  # a reading-room visit is one day


@pytest.mark.parametrize(
    ("line", "purpose", "code"),
    [
        ({"method": "copying"}, "research", "pages_missing"),
        ({"method": "copying", "copy_pages": 0}, "research", "pages_missing"),
        ({"method": "copying", "copy_pages": 501}, "research", "too_many_pages"),
        ({"method": "lending"}, "research", "method_not_allowed"),
        ({"method": "borrow-home"}, "research", "bad_method"),
        ({"method": "reading"}, "reading", "bad_purpose"),  # the method is no purpose
    ],
)
def test_bad_lines_are_refused_with_the_rule_and_nothing_written(
    registered, records, line, purpose, code
):
    with pytest.raises(services.BorrowingError) as refused:
        ask(registered, [{"record": records["open"], **line}], purpose=purpose)
    assert refused.value.code == code
    assert not registered.access_requests.exists()


def test_a_withdrawn_purpose_is_no_longer_offered(admin_user, registered, records):
    purpose = UsePurpose.objects.get(code="economy")
    services.save_use_purpose(purpose, acting_user=admin_user, values={"active": False})
    with pytest.raises(services.BorrowingError):
        ask(registered, [{"record": records["open"]}], purpose="economy")
    assert AuditLog.objects.filter(action="borrowing.purpose.saved").exists()
    with pytest.raises(services.NotAllowed):
        services.save_use_purpose(None, acting_user=registered, values={"code": "x", "name": "x"})


def test_identity_rules_on_a_first_request(researcher, records):
    for number, expires, code in [
        ("123456", dt.date(2040, 1, 1), "id_format"),
        ("110105194912310021", dt.date(2040, 1, 1), "id_checksum"),
        (VALID, dt.date(2001, 1, 1), "id_expired"),
    ]:
        with pytest.raises(services.BorrowingError) as refused:
            ask(
                researcher,
                [{"record": records["open"]}],
                id_document_type="resident_id",
                id_number=number,
                id_document_expires=expires,
            )
        assert refused.value.code == code
    with pytest.raises(services.BorrowingError) as refused:
        ask(researcher, [{"record": records["open"]}])
    assert refused.value.code == "identity_missing"
    assert not researcher.access_requests.exists()


# --- lending: internal units, senior approval, settings --------------------------------------


def test_lending_is_for_internal_units_with_two_approvals_and_the_settings_period(
    internal_unit, records, approver_secret, approver2, front_desk, staff_see_fonds
):
    req = ask(internal_unit, [{"record": records["open"], "method": "lending"}], purpose="work")
    assert [s["role"] for s in req.chain] == ["approver", "approver"]
    assert services.chain_in_words(req.chain)[0].startswith(("Step 1", "第 1 步"))
    # The front desk may not take an approver's step: it is neither offered nor accepted.
    assert req not in services.awaiting_my_decision(front_desk)
    assert [r.pk for r in services.awaiting_my_decision(approver_secret)] == [req.pk]
    req = services.approve_access_request(req, acting_user=approver_secret)
    # A step after one they decided is not offered to the same approver.
    assert services.awaiting_my_decision(approver_secret) == []
    assert not services.can_decide_step(approver_secret, services.current_step(req), req)
    assert [r.pk for r in services.awaiting_my_decision(approver2)] == [req.pk]
    req = services.approve_access_request(req, acting_user=approver2)
    assert req.state == RequestState.APPROVED
    services.retrieve_access_request(req, acting_user=front_desk)
    (loan,) = services.check_out_access_request(req, acting_user=front_desk)
    assert loan.due_date == timezone.localdate() + dt.timedelta(days=7)


def test_settings_are_changed_by_an_administrator_only_and_audited(admin_user, front_desk):
    with pytest.raises(services.NotAllowed):
        services.update_access_settings(acting_user=front_desk, values={"lending_days": 3})
    with pytest.raises(services.BorrowingError) as refused:
        services.update_access_settings(acting_user=admin_user, values={"lending_days": 60})
    assert refused.value.code == "lending_days"
    services.update_access_settings(
        acting_user=admin_user, values={"lending_days": 5, "archive_name": "某市档案馆"}
    )
    assert AccessSettings.current().lending_days == 5
    row = AuditLog.objects.get(action="borrowing.settings.changed")
    assert row.before == {"lending_days": 7, "archive_name": "档案馆"}


# --- the visit: identity check, reading due at closing, copies, certificates, return --------


def test_the_visit_checks_identity_then_serves_reading_copy_and_certificate(
    registered, records, front_desk, client_for
):
    req = ask(
        registered,
        [
            {"record": records["open"], "method": "reading"},
            {"record": records["open2"], "method": "copying", "copy_pages": 6, "certified": True},
            {"record": records["volume"], "method": "certificate"},
        ],
        purpose="evidence",
    )
    req = services.approve_access_request(req, acting_user=front_desk)
    slip = client_for(front_desk).get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
    text = pdf_text(slip.content)
    assert "档案馆" in text and str(timezone.localdate()) in text
    services.retrieve_access_request(req, acting_user=front_desk)
    with pytest.raises(services.BorrowingError) as refused:
        services.check_out_access_request(req, acting_user=front_desk)
    assert refused.value.code == "identity_unchecked"
    (loan,) = services.check_out_access_request(
        req, acting_user=front_desk, identity_seen="居民身份证原件", conditions="只限阅览室"
    )
    assert loan.due_date == timezone.localdate()  # 查阅: back at closing today
    assert ReaderProfile.objects.get(user=registered).identity_checked_by == front_desk
    copy_line = req.lines.get(method="copying")
    cert_line = req.lines.get(method="certificate")
    with pytest.raises(services.BorrowingError) as refused:
        services.serve_line(cert_line, acting_user=front_desk)
    assert refused.value.code == "content_missing"
    copy_line = services.serve_line(copy_line, acting_user=front_desk, pages=5)
    cert_line = services.serve_line(cert_line, acting_user=front_desk, content="兹证明该卷存档。")
    year = timezone.now().year
    assert copy_line.certificate_number == f"ZM{year}-00001"
    assert cert_line.certificate_number == f"ZM{year}-00002"
    with pytest.raises(services.Conflict):
        services.serve_line(copy_line, acting_user=front_desk)
    pdf = client_for(front_desk).get(f"/staff/borrowing/lines/{cert_line.pk}/certificate.pdf")
    assert cert_line.certificate_number in pdf_text(pdf.content)
    assert "兹证明该卷存档" in pdf_text(pdf.content)
    # The slip carries the conditions entered at check-out.
    slip = client_for(front_desk).get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
    assert "只限阅览室" in pdf_text(slip.content)
    # Return: an original needs its count.
    with pytest.raises(services.BorrowingError) as refused:
        services.return_loan(loan, acting_user=front_desk)
    assert refused.value.code == "count_missing"
    services.return_loan(loan, acting_user=front_desk, counted=24, condition="完好")
    req.refresh_from_db()
    assert req.state == RequestState.RETURNED
    services.record_use_effect(req, acting_user=registered, effect="evidence", note="办理退休")
    services.close_access_request(req, acting_user=front_desk)
    req.refresh_from_db()
    assert req.state == RequestState.CLOSED and req.effect == "evidence"


def test_an_expired_document_is_refused_at_the_visit(registered, records, front_desk):
    req = services.approve_access_request(
        ask(registered, [{"record": records["open"]}]), acting_user=front_desk
    )
    services.retrieve_access_request(req, acting_user=front_desk)
    ReaderProfile.objects.filter(user=registered).update(
        id_document_expires=timezone.localdate() - dt.timedelta(days=1)
    )
    with pytest.raises(services.BorrowingError) as refused:
        services.check_out_access_request(req, acting_user=front_desk, identity_seen="身份证")
    assert refused.value.code == "id_expired"
    assert not req.loans.exists()


def test_a_scanned_return_waits_for_its_count_before_the_request_closes(
    registered, records, front_desk, keeper
):
    ReaderProfile.objects.filter(user=registered).update(identity_checked_at=timezone.now())
    req = services.approve_access_request(
        ask(registered, [{"record": records["open"]}]), acting_user=front_desk
    )
    services.retrieve_access_request(req, acting_user=front_desk)
    (loan,) = services.check_out_access_request(req, acting_user=front_desk)
    result = services.process_checkin_scan(
        acting_user=keeper,
        scan_id="7b1a3c9e-0000-4000-8000-000000000001",
        kind="return",
        code=services.record_code(loan.record),
    )
    assert result.status == 200
    with pytest.raises(services.BorrowingError) as refused:
        services.close_access_request(req, acting_user=front_desk)
    assert refused.value.code == "count_missing"
    services.record_return_count(loan, acting_user=keeper, counted=10)
    assert services.close_access_request(req, acting_user=front_desk).state == "closed"


# --- the inbox and the request page ----------------------------------------------------------


def test_inbox_page_and_navigation_count(
    registered, records, approver_secret, front_desk, client_for, staff_see_fonds
):
    ask(registered, [{"record": records["open"]}])  # open: the desk's step
    html = client_for(front_desk).get("/staff/borrowing/inbox/").content.decode()
    assert records["open"].reference_code in html
    assert "第 1 步" in html or "Step 1" in html
    nav = client_for(front_desk).get("/staff/borrowing/").content.decode()
    assert 'data-count="1"' in nav
    # An approver may take a desk step too; once decided, it leaves every inbox.
    services.approve_access_request(registered.access_requests.get(), acting_user=front_desk)
    for user in (front_desk, approver_secret):
        assert "data-count" not in client_for(user).get("/staff/borrowing/").content.decode()
    assert client_for(registered).get("/staff/borrowing/inbox/").status_code in (302, 403, 404)


def test_desk_search_by_number_applicant_id_tail_and_code(
    registered, records, front_desk, client_for
):
    req = ask(registered, [{"record": records["open"]}])
    client = client_for(front_desk)
    for query in (req.number, "李华", "1234", records["open"].reference_code.replace("·", ".")):
        html = client.get("/staff/borrowing/", {"q": query}).content.decode()
        assert req.number in html, query
    assert req.number not in client.get("/staff/borrowing/", {"q": "nobody"}).content.decode()


# --- controlled records: the metadata-only door -----------------------------------------------


def test_controlled_records_are_listed_metadata_only_per_fonds(
    registered, records, fonds, admin_user, client_for, approver_secret, staff_see_fonds
):
    client = client_for(registered)
    controlled = records["controlled"]
    # Not listed until the administrator lists the fonds; the record door stays shut.
    assert controlled.reference_code not in client.get("/requests/controlled/").content.decode()
    assert client.get(f"/requests/new/?item={controlled.pk}").status_code == 404
    services.update_access_settings(acting_user=admin_user, values={}, metadata_fonds=[fonds])
    html = client.get("/requests/controlled/").content.decode()
    assert controlled.reference_code in html and controlled.title in html
    # Classified records are never listed; the anonymous public sees no list at all.
    assert records["secret"].reference_code not in html
    assert client_for(None).get("/requests/controlled/").status_code == 302
    # The record door is unchanged: the record's own page stays absent for the reader.
    assert client.get(f"/catalogue/item/{controlled.pk}/").status_code == 404
    assert client.get(f"/catalogue/item/{records['open'].pk}/").status_code == 200
    # Basket: one open, one controlled record, one request, one approval.
    for record in (records["open"], controlled):
        client.post("/requests/basket/", {"action": "add", "item": record.pk})
    response = client.post(
        "/requests/new/",
        {
            "purpose": "research",
            "date_from": timezone.localdate(),
            "method-0": "reading",
            "method-1": "copying",
            "copy_pages-1": "4",
        },
    )
    req = registered.access_requests.get()
    assert response.status_code == 302
    assert req.lines.count() == 2 and req.chain[0]["role"] == "approver"
    assert [r.pk for r in services.awaiting_my_decision(approver_secret)] == [req.pk]
    # Lines decided separately: the open one approved, the controlled one refused.
    open_line = req.lines.get(item=records["open"])
    req = services.decide_access_request(
        req, acting_user=approver_secret, approve=[open_line.pk], reason="未开放"
    )
    assert req.state == RequestState.PARTLY_APPROVED
    with pytest.raises(services.BorrowingError):  # a secret record cannot be asked for
        ask(registered, [{"record": records["secret"]}])
    with pytest.raises(services.BorrowingError):  # nor one not yet reviewed
        records["controlled"].__class__.objects.filter(pk=controlled.pk).update(
            access_status="unreviewed", narrows=True
        )
        ask(registered, [{"record": controlled}])


# --- statistics ------------------------------------------------------------------------------


def test_statistics_count_uses_not_submissions(registered, records, front_desk, client_for):
    ReaderProfile.objects.filter(user=registered).update(identity_checked_at=timezone.now())
    used = services.approve_access_request(
        ask(
            registered,
            [
                {"record": records["open"], "method": "reading"},
                {"record": records["volume"], "method": "copying", "copy_pages": 9},
            ],
            purpose="history",
        ),
        acting_user=front_desk,
    )
    services.retrieve_access_request(used, acting_user=front_desk)
    services.check_out_access_request(used, acting_user=front_desk)
    services.serve_line(used.lines.get(method="copying"), acting_user=front_desk)
    services.reject_access_request(
        ask(registered, [{"record": records["open2"]}]), acting_user=front_desk, reason="无关"
    )
    services.cancel_access_request(
        ask(registered, [{"record": records["open2"]}]), acting_user=registered
    )
    ask(registered, [{"record": records["open2"]}])  # waiting

    data = statistics.monthly(timezone.localdate().year, user=front_desk)
    assert data["figures"] == {
        "persons": 1,
        "people": 1,
        "volume_uses": 1,
        "item_uses": 1,
        "copy_pages": 9,
        "certificates": 0,
        "refused": 1,
        "cancelled": 1,
        "waiting": 1,
    }
    assert statistics.breakdown(data, "purpose") == [("编史修志", 1)]
    response = client_for(front_desk).get("/staff/borrowing/statistics/", {"format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize(
    "typed",
    [
        "J012-WS·2019-Y-BGS-0001",
        "J012-WS.2019-Y-BGS-0001",  # Code 128 carries "." for "·"
        "j012-ws.2019-y-bgs-0001",  # typed in lower case
        "Ｊ０１２－ＷＳ．２０１９－Ｙ－ＢＧＳ－０００１",  # full-width input
        "i{pk}",  # the slip code, lower case
    ],
)
def test_one_finder_for_every_code_form(records, keeper, typed):
    record = records["open"]
    code = typed.format(pk=record.pk)
    assert services.find_record_by_code(code, user=keeper) == record


@pytest.mark.parametrize("query", ["²", "JY٣", "1" * 40, "<b>"])
def test_desk_search_takes_any_text(front_desk, client_for, query):
    assert client_for(front_desk).get("/staff/borrowing/", {"q": query}).status_code == 200
