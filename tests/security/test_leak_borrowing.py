"""The borrowing leak test: every persona through every borrowing door.

The rule (SPEC, "Classification"): a user sees a classified record only with a clearance at or
above its level AND a permission on its fonds — through every door, borrowing included. A
request, loan, slip, retrieval line, statistic or check-in look-up is there for a member of
staff only when every record it names passes that record door; otherwise it is absent (404,
like a missing one), never shown in part, and never counted. Requesters see their own.

The oracle below is written out independently of the code under test (``sees_record``).

Doors: the front-desk queue and its tabs, the request page, its decide action (page and API),
the borrowing slip and return receipt PDFs, the retrieval list (page and PDF), the statistics
(page and CSV), the request and loan API (list, detail, decide, return), the loan page action,
the check-in look-up and scan API, the requester's own pages, and the live notices.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from accounts.choices import Classification, Role
from accounts.models import User
from accounts.permissions import grant, role_group
from borrowing import services
from borrowing.choices import RequestState
from borrowing.models import AccessRequest, ApprovalDecision, Loan
from borrowing.views import SLIP_STATES
from repository.choices import AccessStatus
from repository.labels import barcode_payload
from repository.models import Category, Fonds, Item, Position, ShelvingUnit, StoreRoom
from tests.gates import missing

pytestmark = pytest.mark.django_db

S = Classification
BORROWING_STAFF = {Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR}
CHECKIN = {Role.FRONT_DESK, Role.KEEPER, Role.ADMINISTRATOR}
FETCHERS = {Role.KEEPER, Role.FRONT_DESK, Role.ADMINISTRATOR}
STATS = {Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR}

# name -> (roles, clearance, fonds on which the user holds view_fonds_records)
CAST: dict[str, tuple[tuple[str, ...], int, tuple[str, ...]]] = {
    "researcher": ((Role.RESEARCHER,), S.NONE, ()),  # the requester of the open requests
    "researcher_other": ((Role.RESEARCHER,), S.NONE, ()),  # a researcher, not the requester
    "outsider": ((), S.NONE, ()),
    "front_desk": ((Role.FRONT_DESK,), S.NONE, ()),
    "front_desk_ab": ((Role.FRONT_DESK,), S.CONFIDENTIAL, ("J0A", "J0B")),
    "keeper_nofonds": ((Role.KEEPER,), S.CONFIDENTIAL, ()),  # cleared, no fonds permission
    "keeper_ab": ((Role.KEEPER,), S.CONFIDENTIAL, ("J0A", "J0B")),
    "approver_a": ((Role.APPROVER,), S.CONFIDENTIAL, ("J0A",)),  # one fonds only
    "approver_b1": ((Role.APPROVER,), S.CONFIDENTIAL, ("J0B",)),
    "approver_b2": ((Role.APPROVER,), S.CONFIDENTIAL, ("J0B",)),
    "archivist_ab": ((Role.ARCHIVIST,), S.CONFIDENTIAL, ("J0A", "J0B")),  # staff requester
    "admin": ((Role.ADMINISTRATOR,), S.TOP_SECRET, ("J0A", "J0B")),
}
PERSONAS = ["public", *CAST]


def roles_of(name: str) -> set[str]:
    return set(CAST[name][0]) if name in CAST else set()


def sees_record(name: str, record) -> bool:
    """The record door, written out: public records for all; classified or controlled ones for
    staff with the clearance AND a permission on the record's fonds."""
    if record.access_status == AccessStatus.OPEN and record.classification == S.NONE:
        return True
    if name not in CAST:
        return False
    roles, clearance, fonds = CAST[name]
    staff = bool(set(roles) - {Role.RESEARCHER})
    return staff and record.classification <= clearance and record.fonds.code in fonds


def handles(name: str, req_records) -> bool:
    return bool(roles_of(name) & BORROWING_STAFF) and all(sees_record(name, r) for r in req_records)


@pytest.fixture
def cast(db) -> dict[str, User | None]:
    fonds = {code: Fonds.objects.create(code=code, name=f"全宗{code}") for code in ("J0A", "J0B")}
    users: dict[str, User | None] = {"public": None}
    for name, (roles, clearance, visible) in CAST.items():
        user = User.objects.create_user(
            username=name, password="x-pass-2026", clearance=clearance, display_name=name
        )
        user.groups.set([role_group(role) for role in roles])
        for code in visible:
            grant("repository.view_fonds_records", user, fonds[code])
        users[name] = user
    return users


@pytest.fixture
def world(cast, today):
    """Records of two fonds on one shelf and requests in every state that has a door."""
    room = StoreRoom.objects.create(code="K09", name="九号库")
    unit = ShelvingUnit.objects.create(room=room, code="01", columns=1, sections=1, layers=1)
    shelf = Position.objects.create(
        room=room,
        unit=unit,
        column=1,
        section=1,
        layer=1,
        code=Position.make_code("K09", "01", "A", 1, 1, 1),
        path=Position.make_path("K09", "01", "A", 1, 1, 1),
        capacity=100,
    )
    records = {}
    for code, level, status in (
        ("A_open", S.NONE, AccessStatus.OPEN),
        ("A_secret", S.SECRET, AccessStatus.CONTROLLED),
        ("B_open", S.NONE, AccessStatus.OPEN),
        ("B_controlled", S.NONE, AccessStatus.CONTROLLED),
        ("B_secret", S.SECRET, AccessStatus.CONTROLLED),
        ("B_conf", S.CONFIDENTIAL, AccessStatus.CONTROLLED),
        ("B_top", S.TOP_SECRET, AccessStatus.CONTROLLED),
    ):
        fonds = Fonds.objects.get(code=f"J0{code[0]}")
        category, _new = Category.objects.get_or_create(fonds=fonds, code="WS", name="文书")
        records[code] = Item.objects.create(
            fonds=fonds,
            category=category,
            reference_code=f"{fonds.code}-WS·2001-Y-{code.replace('_', '')}",
            title=f"题名{code}机密内容",
            access_status=status,
            classification=level,
            position=shelf,
        )

    def ask(who, names, purpose="research"):
        identity = {}
        if not cast[who].is_archive_staff:
            identity = {
                "id_document_type": "resident_id",
                "id_number": "110101199001061234",
                "id_document_expires": dt.date(2040, 1, 1),
            }
        return services.create_access_request(
            acting_user=cast[who],
            records=[records[n] for n in names],
            purpose=purpose,
            date_from=today,
            date_to=today + dt.timedelta(days=7),
            **identity,
        )

    def approve(req, *who):
        for name in who:
            req = services.approve_access_request(req, acting_user=cast[name])
        return req

    requests = {
        "r_open": ask("researcher", ["A_open", "B_open"]),
        "r_b_conf": ask("archivist_ab", ["B_secret", "B_conf"]),
        "r_a_secret": ask("archivist_ab", ["A_secret"]),
        "r_mixed": ask("archivist_ab", ["A_secret", "B_secret"]),
        "r_b_approved": approve(ask("archivist_ab", ["B_controlled"]), "approver_b1"),
        "r_open_approved": approve(ask("researcher", ["A_open"]), "front_desk"),
    }
    loaned = approve(ask("archivist_ab", ["B_conf", "B_secret"]), "approver_b1", "approver_b2")
    services.retrieve_access_request(loaned, acting_user=cast["keeper_ab"])
    loans = services.check_out_access_request(
        loaned, acting_user=cast["front_desk_ab"], due_date=today + dt.timedelta(days=7)
    )
    services.return_loan(
        next(loan for loan in loans if loan.item_id == records["B_secret"].pk),
        acting_user=cast["keeper_ab"],
        counted=3,
    )
    requests["r_b_loan"] = AccessRequest.objects.get(pk=loaned.pk)
    names = {req.pk: [line.record for line in req.lines.all()] for req in requests.values()}
    return {"records": records, "requests": requests, "names": names, "shelf": shelf}


@pytest.fixture
def today():
    return timezone.localdate()


def client_of(cast, name) -> Client:
    client = Client()
    if cast[name] is not None:
        client.force_login(cast[name])
    return client


def denied(name: str) -> int:
    """What a page answers someone who may not use it: sign-in for the public, else 404."""
    return 302 if name == "public" else 404


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"JY\d{8}", text))


def pdf_text(content: bytes) -> str:
    if not shutil.which("pdftotext"):
        missing("pdftotext (Debian's poppler-utils) is not installed")
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    )
    return out.stdout.decode()


# --- requests: queue, page, slip, receipt, API ---------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_request_doors(cast, world, persona):
    client = client_of(cast, persona)
    user = cast[persona]
    for key, req in world["requests"].items():
        named = world["names"][req.pk]
        sees = handles(persona, named)
        own = user is not None and req.requester_id == user.pk
        page = client.get(f"/staff/borrowing/requests/{req.pk}/")
        slip = client.get(f"/staff/borrowing/requests/{req.pk}/slip.pdf")
        api = client.get(f"/api/v1/borrowing/requests/{req.pk}/")
        mine = client.get(f"/requests/{req.pk}/")
        if sees:
            # The slip prints once the request is approved; before, a refusal (409).
            printable = req.state in SLIP_STATES
            assert (page.status_code, slip.status_code) == (200, 200 if printable else 409), (
                persona,
                key,
            )
            for record in named:
                assert record.title in page.content.decode()
        else:
            assert page.status_code == slip.status_code == denied(persona), (persona, key)
            for record in named:
                if not sees_record(persona, record):
                    assert record.title not in page.content.decode()
        if key == "r_b_loan":
            receipt = client.get(f"/staff/borrowing/requests/{req.pk}/receipt.pdf")
            assert receipt.status_code == (200 if sees else denied(persona)), (persona, key)
        if sees or own:
            assert api.status_code == 200, (persona, key)
        else:
            assert api.status_code == (403 if persona == "public" else 404), (persona, key)
            assert not any(r.title in api.content.decode() for r in named)
        assert mine.status_code == (200 if own else denied(persona)), (persona, key)
    listing = client.get("/api/v1/borrowing/requests/", {"size": 100})
    if persona == "public":
        assert listing.status_code == 403
        return
    expected = {
        req.number
        for req in world["requests"].values()
        if handles(persona, world["names"][req.pk]) or req.requester_id == user.pk
    }
    assert {row["number"] for row in listing.json()["results"]} == expected, persona
    text = listing.content.decode()
    for record in world["records"].values():
        own_records = {
            r.pk
            for req in world["requests"].values()
            if req.requester_id == user.pk
            for r in world["names"][req.pk]
        }
        if not sees_record(persona, record) and record.pk not in own_records:
            assert record.title not in text and record.reference_code not in text


@pytest.mark.parametrize("persona", PERSONAS)
def test_queue_lists_and_counts_only_what_the_viewer_handles(cast, world, persona):
    client = client_of(cast, persona)
    for state in (RequestState.SUBMITTED, RequestState.APPROVED, RequestState.CHECKED_OUT):
        response = client.get("/staff/borrowing/", {"state": state})
        if not roles_of(persona) & BORROWING_STAFF:
            assert response.status_code == denied(persona)
            return
        html = response.content.decode()
        expected = {
            req.number
            for req in world["requests"].values()
            if req.state == state and handles(persona, world["names"][req.pk])
        }
        assert numbers_in(html) == expected, (persona, state)
        for s in (RequestState.SUBMITTED, RequestState.APPROVED, RequestState.CHECKED_OUT):
            count = sum(
                1
                for req in world["requests"].values()
                if req.state == s and handles(persona, world["names"][req.pk])
            )
            assert f'data-state="{s}">{count}<' in html, (persona, s)


@pytest.mark.parametrize("persona", PERSONAS)
def test_decisions_only_on_requests_the_viewer_handles(cast, world, persona):
    """Page and API: a request the viewer does not handle cannot be decided (404, nothing
    written), whatever their role and clearance."""
    client = client_of(cast, persona)
    for key in ("r_open", "r_b_conf", "r_a_secret", "r_mixed"):
        req = world["requests"][key]
        if handles(persona, world["names"][req.pk]):
            continue
        line_ids = list(req.lines.values_list("pk", flat=True))
        page = client.post(
            f"/staff/borrowing/requests/{req.pk}/decide/", {"approve": line_ids, "reason": "x"}
        )
        api = client.post(
            f"/api/v1/borrowing/requests/{req.pk}/decide/",
            {"approve": line_ids},
            content_type="application/json",
        )
        assert page.status_code == denied(persona), (persona, key)
        assert api.status_code == (403 if persona == "public" else 404), (persona, key)
        req.refresh_from_db()
        assert req.state == RequestState.SUBMITTED
        assert not ApprovalDecision.objects.filter(request=req).exists()


def test_an_approver_of_fonds_a_cannot_decide_a_confidential_request_of_fonds_b(cast, world):
    """The probe's finding: step 1 of a 机密 request of fonds B was decided by an approver with
    permission on fonds A only (role and clearance were checked, not the fonds)."""
    req = world["requests"]["r_b_conf"]
    step = req.chain[0]
    approver_a = cast["approver_a"]
    assert not services.can_decide_step(approver_a, step, req)
    assert services.can_decide_step(cast["approver_b1"], step, req)
    with pytest.raises(services.NotAllowed):
        services.approve_access_request(req, acting_user=approver_a)
    req.refresh_from_db()
    assert req.state == RequestState.SUBMITTED and not req.decisions.exists()
    page = client_of(cast, "approver_a").get(f"/staff/borrowing/requests/{req.pk}/")
    assert page.status_code == 404
    assert "题名B_conf" not in page.content.decode()


# --- retrieval list, statistics -------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_retrieval_list_page_and_pdf(cast, world, persona):
    client = client_of(cast, persona)
    page = client.get("/staff/borrowing/retrieval/")
    pdf = client.get("/staff/borrowing/retrieval/", {"format": "pdf"})
    if not roles_of(persona) & FETCHERS:
        assert page.status_code == pdf.status_code == denied(persona)
        return
    expected = {
        record.reference_code
        for req in world["requests"].values()
        if req.state in (RequestState.APPROVED, RequestState.PARTLY_APPROVED)
        and handles(persona, world["names"][req.pk])
        for record in world["names"][req.pk]
    }
    codes = {r.reference_code for r in world["records"].values()}
    html = page.content.decode()
    assert {code for code in codes if code in html} == expected, persona
    for record in world["records"].values():
        if record.reference_code not in expected:
            assert record.title not in html
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert {code for code in codes if code in text} == expected, persona


@pytest.mark.parametrize("persona", PERSONAS)
def test_statistics_count_only_what_the_viewer_handles(cast, world, persona):
    client = client_of(cast, persona)
    year = world["requests"]["r_open"].submitted_at.year
    page = client.get("/staff/borrowing/statistics/", {"year": year})
    csv = client.get("/staff/borrowing/statistics/", {"year": year, "format": "csv"})
    if not roles_of(persona) & STATS:
        xlsx = client.get("/staff/borrowing/statistics/", {"year": year, "format": "xlsx"})
        assert page.status_code == csv.status_code == xlsx.status_code == denied(persona)
        return
    # Counted on the annual report's basis: requests in which something was used (here the
    # loaned one), and their used lines; refused, cancelled and waiting requests apart.
    used = [
        req
        for req in world["requests"].values()
        if handles(persona, world["names"][req.pk]) and req.loans.exists()
    ]
    rows = [line.split(",") for line in csv.content.decode("utf-8-sig").splitlines()[1:]]
    purposes = sum(int(row[3]) for row in rows if row[1] == "purpose")
    assert purposes == len(used), persona
    lines_by_fonds: dict[str, int] = {}
    for req in used:
        for loan in req.loans.all():
            code = loan.record.fonds.code
            lines_by_fonds[code] = lines_by_fonds.get(code, 0) + 1
    counted = {}
    for row in rows:
        if row[1] == "fonds":
            counted[row[2]] = counted.get(row[2], 0) + int(row[3])
    assert counted == lines_by_fonds, persona
    # The annual-report export: the same figures, nothing more.
    xlsx = client.get("/staff/borrowing/statistics/", {"year": year, "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet_rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    cells = [cell for row in sheet_rows for cell in row if cell is not None]
    hidden_fonds = {r.fonds.code for r in world["records"].values()} - set(lines_by_fonds)
    assert not hidden_fonds & {str(c) for c in cells}, persona
    visits = next(row for row in sheet_rows if row[0] in ("利用人次", "Person-visits"))
    assert visits[1] == len(used), persona


# --- loans ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_loan_doors(cast, world, persona):
    client = client_of(cast, persona)
    user = cast[persona]
    loans = list(Loan.objects.select_related("request"))
    assert len(loans) == 2
    listing = client.get("/api/v1/borrowing/loans/")
    if persona == "public":
        assert listing.status_code == 403
    else:
        expected = {
            loan.pk
            for loan in loans
            if handles(persona, world["names"][loan.request_id]) or loan.borrower_id == user.pk
        }
        assert {row["id"] for row in listing.json()["results"]} == expected, persona
    for loan in loans:
        sees = handles(persona, world["names"][loan.request_id])
        own = user is not None and loan.borrower_id == user.pk
        detail = client.get(f"/api/v1/borrowing/loans/{loan.pk}/")
        if sees or own:
            assert detail.status_code == 200
        else:
            assert detail.status_code == (403 if persona == "public" else 404), persona
            assert loan.record.reference_code not in detail.content.decode()
        if loan.returned_at is None and not sees:
            api = client.post(f"/api/v1/borrowing/loans/{loan.pk}/return/")
            page = client.post(f"/staff/borrowing/loans/{loan.pk}/return/")
            assert api.status_code in (403, 404) and page.status_code == denied(persona)
            loan.refresh_from_db()
            assert loan.returned_at is None


# --- check-in -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_checkin_lookup_and_scan(cast, world, persona):
    """The look-up maps no id to a code and confirms no hidden record: a record the viewer may
    not see answers exactly like a code that names nothing — by its slip code, its reference
    code and its Code 128 form ("." for "·")."""
    client = client_of(cast, persona)
    records = world["records"]
    on_loan = records["B_conf"]
    url = "/api/v1/borrowing/checkin/lookup/"
    for record, state in ((on_loan, 200), (records["B_top"], 409), (records["A_open"], 409)):
        for code in (
            services.record_code(record),
            record.reference_code,
            barcode_payload(record.reference_code),
        ):
            response = client.get(url, {"code": code})
            body = response.content.decode()
            if not roles_of(persona) & CHECKIN:
                assert response.status_code in (403, 404)
                continue
            if sees_record(persona, record):
                assert response.status_code == state, (persona, code, body)
                if state == 200:
                    assert response.json()["reference_code"] == record.reference_code
            else:
                ghost = client.get(url, {"code": code + "9"})
                assert response.status_code == ghost.status_code == 404, (persona, code)
                assert response.json()["code"] == ghost.json()["code"] == "unknown_code"
                assert record.title not in body and record.reference_code not in body.replace(
                    code, ""
                )
                assert "archivist_ab" not in body
    if roles_of(persona) & CHECKIN and not sees_record(persona, on_loan):
        scan = client.post(
            "/api/v1/borrowing/checkin/scans/",
            {"scan_id": str(uuid.uuid4()), "kind": "return", "code": on_loan.reference_code},
            content_type="application/json",
        )
        assert scan.status_code == 404 and on_loan.title not in scan.content.decode()
        assert Loan.objects.active().filter(item=on_loan).exists()


# --- the requester's own view -----------------------------------------------------------------


def test_a_record_that_leaves_the_requesters_view_is_listed_without_code_or_title(
    cast, world, today
):
    """The requester keeps their request (state, dates, cancel) and reads each record by the
    record door — for a researcher the public rules: a record classified since shows neither
    its code nor its title, on the page and in the API."""
    req = world["requests"]["r_open"]
    record = world["records"]["B_open"]
    Item.objects.filter(pk=record.pk).update(
        classification=S.SECRET, access_status=AccessStatus.CONTROLLED, narrows=True
    )
    client = client_of(cast, "researcher")
    page = client.get(f"/requests/{req.pk}/")
    assert page.status_code == 200 and req.number in page.content.decode()
    assert record.title not in page.content.decode()
    assert record.reference_code not in page.content.decode()
    assert world["records"]["A_open"].title in page.content.decode()
    api = client.get(f"/api/v1/borrowing/requests/{req.pk}/").json()
    titles = {line["title"] for line in api["lines"]}
    assert record.title not in titles and world["records"]["A_open"].title in titles
    assert record.reference_code not in str(api)
    # the staff who no longer see every record of it no longer handle it either
    assert (
        client_of(cast, "front_desk").get(f"/staff/borrowing/requests/{req.pk}/").status_code == 404
    )
    assert (
        client_of(cast, "front_desk_ab").get(f"/staff/borrowing/requests/{req.pk}/").status_code
        == 200
    )


# --- live notices -----------------------------------------------------------------------------


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def _listen(user):
    from config.asgi import application

    cookie = await sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[(b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)],
    )
    connected, _code = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_live_notices_reach_the_requester_only_and_name_no_record(cast, world):
    """A decision on a request tells its requester (request id and state, no code, no title);
    another researcher and the staff who do not handle it hear nothing."""
    req = world["requests"]["r_b_conf"]
    requester = await _listen(cast["archivist_ab"])
    others = [await _listen(cast[name]) for name in ("researcher_other", "approver_a")]
    await sync_to_async(services.approve_access_request)(req, acting_user=cast["approver_b1"])
    message = await requester.receive_json_from(timeout=5)
    assert message["type"] == "access_request.decided"
    assert set(message["payload"]) == {"id", "state", "state_label"}
    for record in world["names"][req.pk]:
        assert record.title not in str(message) and record.reference_code not in str(message)
    for communicator in others:
        assert await communicator.receive_nothing(timeout=0.5)
    for communicator in (requester, *others):
        await communicator.disconnect()


def test_a_request_for_a_classified_volume_follows_the_volume_through_the_door(cast, world, today):
    """Lines may name volumes: the door reads them through the volume's own record door."""
    from repository.models import Volume

    item = world["records"]["B_secret"]
    volume = Volume.objects.create(
        fonds=item.fonds,
        category=item.category,
        reference_code="J0B-WS·2001-Y-0001",
        title="案卷B秘密标题",
        access_status=AccessStatus.CONTROLLED,
        classification=S.SECRET,
    )
    req = services.create_access_request(
        acting_user=cast["archivist_ab"],
        records=[volume],
        purpose="research",
        date_from=today,
        date_to=today,
    )
    for name in PERSONAS:
        page = client_of(cast, name).get(f"/staff/borrowing/requests/{req.pk}/")
        expected = 200 if handles(name, [volume]) else denied(name)
        assert page.status_code == expected, name
        if expected != 200:
            assert volume.title not in page.content.decode()


# --- the approver's inbox, certificates --------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_inbox_lists_only_requests_the_viewer_handles_and_may_decide(cast, world, persona):
    client = client_of(cast, persona)
    page = client.get("/staff/borrowing/inbox/")
    user = cast[persona]
    if user is None or not roles_of(persona) & {Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR}:
        assert page.status_code == denied(persona)
        return
    assert page.status_code == 200
    html = page.content.decode()
    listed = numbers_in(html)
    for req in world["requests"].values():
        if req.number in listed:
            assert handles(persona, world["names"][req.pk]), (persona, req.number)
            assert req.requester_id != user.pk
    for record in world["records"].values():
        if not sees_record(persona, record):
            assert record.title not in html, (persona, record.reference_code)


@pytest.mark.parametrize("persona", PERSONAS)
def test_certificate_pdf_only_for_those_who_handle_the_request(cast, world, persona, today):
    records = world["records"]
    req = services.create_access_request(
        acting_user=cast["archivist_ab"],
        lines=[{"record": records["B_controlled"], "method": "certificate"}],
        purpose="work",
        date_from=today,
    )
    req = services.approve_access_request(req, acting_user=cast["approver_b1"])
    line = services.serve_line(req.lines.get(), acting_user=cast["front_desk_ab"], content="兹证明")
    response = client_of(cast, persona).get(f"/staff/borrowing/lines/{line.pk}/certificate.pdf")
    if handles(persona, [records["B_controlled"]]):
        assert response.status_code == 200
        assert line.certificate_number in pdf_text(response.content)
    else:
        assert response.status_code == denied(persona), persona
