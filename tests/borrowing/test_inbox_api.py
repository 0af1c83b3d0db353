"""The approver inbox over the API (GET /api/v1/borrowing/inbox/): the page's list, door and
predicates."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ReaderProfile
from accounts.permissions import grant
from borrowing import services
from borrowing.models import AccessSettings

pytestmark = pytest.mark.django_db

URL = "/api/v1/borrowing/inbox/"


@pytest.fixture
def reader(researcher, records):
    ReaderProfile.objects.create(
        user=researcher,
        real_name="李华",
        id_document_type="resident_id",
        id_number_last4="1234",
        id_number_digest="x",
        id_document_expires=dt.date(2040, 1, 1),
    )
    AccessSettings.current().metadata_fonds.add(records["open"].fonds)  # may be asked for
    return researcher


def ask(user, record):
    return services.create_access_request(
        acting_user=user,
        lines=[{"record": record, "method": "reading"}],
        purpose="research",
        date_from=timezone.localdate(),
    )


def test_the_desk_step_is_listed_until_decided(reader, records, front_desk, client_for):
    req = ask(reader, records["open"])
    client = client_for(front_desk)
    body = client.get(URL).json()
    assert [row["number"] for row in body] == [req.number]
    row = body[0]
    assert row["step_number"] == 1
    assert row["lines"][0]["reference_code"] == records["open"].reference_code
    assert row["chain_words"] and row["approved_by"] == []
    services.approve_access_request(req, acting_user=front_desk)
    assert client.get(URL).json() == []


def test_a_request_behind_the_door_is_not_listed(
    reader, records, approver2, approver_secret, client_for
):
    # Only approver_secret may see the controlled record's fonds.
    grant("repository.view_fonds_records", approver_secret, records["controlled"].fonds)
    req = ask(reader, records["controlled"])
    assert [r["number"] for r in client_for(approver_secret).get(URL).json()] == [req.number]
    assert client_for(approver2).get(URL).json() == []


@pytest.mark.parametrize("persona", ["researcher", "keeper"])
def test_those_who_decide_no_step_get_404(persona, request, client_for):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(URL).status_code == 404


def test_anonymous_is_refused(client_for):
    assert client_for(None).get(URL).status_code in (401, 403)
