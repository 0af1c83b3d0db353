"""The printed use register (利用登记簿): its content, who may print it, the door."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.choices import Role
from accounts.models import ReaderProfile, User
from accounts.permissions import grant, role_group
from borrowing import services
from borrowing.choices import EffectCategory
from borrowing.models import AccessRequest, AccessSettings
from repository.models import Item
from tests.pdf import pdf_text

pytestmark = pytest.mark.django_db

URL = "/staff/borrowing/statistics/register.pdf"


def ask(user, lines, purpose="history"):
    return services.create_access_request(
        acting_user=user, lines=lines, purpose=purpose, date_from=timezone.localdate()
    )


def use(req, desk, approver=None):
    req = services.approve_access_request(req, acting_user=approver or desk)
    services.retrieve_access_request(req, acting_user=desk)
    services.check_out_access_request(req, acting_user=desk)
    for line in req.lines.filter(method__in=["copying", "certificate"]):
        services.serve_line(line, acting_user=desk, content="兹证明")
    return req


@pytest.fixture
def served(researcher, records, front_desk, approver2):
    """A researcher's visit (reading a record whose title carries markup, copying 9 pages)
    and a visit to a controlled record only ``front_desk`` may see."""
    grant("repository.view_fonds_records", front_desk, records["open"].fonds)
    grant("repository.view_fonds_records", approver2, records["open"].fonds)
    AccessSettings.current().metadata_fonds.add(records["open"].fonds)  # may be asked for
    ReaderProfile.objects.create(
        user=researcher,
        real_name="李华",
        unit_name="市志办",
        id_document_type="resident_id",
        id_number_last4="1234",
        id_number_digest="x",
        id_document_expires=dt.date(2040, 1, 1),
        identity_checked_at=timezone.now(),
    )
    Item.objects.filter(pk=records["open"].pk).update(title="<b>粗体</b> & <font size=40>大")
    visit = use(
        ask(
            researcher,
            [
                {"record": records["open"], "method": "reading"},
                {"record": records["volume"], "method": "copying", "copy_pages": 9},
            ],
        ),
        front_desk,
    )
    AccessRequest.objects.filter(pk=visit.pk).update(effect=EffectCategory.RESEARCH)
    hidden = use(ask(researcher, [{"record": records["controlled"]}]), front_desk, approver2)
    return visit, hidden


def test_the_register_lists_each_use_with_its_particulars(served, front_desk, client_for):
    visit, hidden = served
    response = client_for(front_desk).get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for expected in (
        "利用登记簿",
        f"{timezone.localdate():%Y-%m-%d}",
        visit.number,
        hidden.number,  # the desk with the fonds sees both visits
        "李华",
        "市志办",
        "编史修志",
        "J012-WS-V0001",
        "研究成果",
    ):
        assert expected in text, expected
    flat = " ".join(text.split())
    assert "<b>粗体</b> &" in flat  # markup printed as written
    assert "<font size=40>大" in flat
    assert "9" in text.split("J012-WS-V0001", 1)[1]
    assert "front_desk" in text  # served by


def test_requests_behind_the_door_are_counted_not_listed(served, client_for, records):
    visit, hidden = served
    desk2 = User.objects.create_user(username="desk2", password="x-pass-2026")
    desk2.groups.set([role_group(Role.FRONT_DESK)])
    text = pdf_text(client_for(desk2).get(URL).content)
    assert visit.number in text
    assert hidden.number not in text
    assert records["controlled"].reference_code not in text
    assert "未列出的申请：1 件" in " ".join(text.split())


def test_a_period_without_uses_prints_an_empty_register(served, front_desk, client_for):
    text = pdf_text(
        client_for(front_desk).get(URL, {"from": "2001-01-01", "to": "2001-02-01"}).content
    )
    assert served[0].number not in text
    assert "2001-01-01" in text
    assert "本期间没有利用记录" in text


@pytest.mark.parametrize("persona", ["researcher", "keeper"])
def test_people_who_may_not_read_statistics_get_404(persona, request, client_for):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(URL).status_code == 404


@pytest.mark.parametrize(("start", "end"), [("x", "2026-13-40"), ("2030-01-01", "2000-01-01")])
def test_any_period_text_gives_a_register(start, end, front_desk, client_for):
    response = client_for(front_desk).get(URL, {"from": start, "to": end})
    assert response.status_code == 200


def test_the_statistics_page_links_the_register(front_desk, client_for):
    page = client_for(front_desk).get("/staff/borrowing/statistics/").content.decode()
    assert 'action="/staff/borrowing/statistics/register.pdf"' in page
