"""Time-limited access to digitised pages: granted on approval, revoked by ``expire_grants``,
404 again afterwards (frozen time)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image

from accounts.models import AuditLog
from borrowing import services
from borrowing.digital import PERM
from borrowing.models import DigitalGrant
from repository.models import DigitalPage

pytestmark = pytest.mark.django_db

START = dt.datetime(2030, 3, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (240, 230, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def add_page(record, number=1):
    page = DigitalPage(item=record, page_number=number, format="JPEG", width=120, height=160)
    for field in ("original", "web", "thumbnail"):
        getattr(page, field).save(f"p{number}.jpg", ContentFile(jpeg()), save=False)
    page.save()
    return page


@pytest.fixture
def grant_setup(keeper, approver_secret, records, staff_see_fonds):
    page = add_page(records["controlled"])
    with time_machine.travel(START, tick=False):
        req = services.create_access_request(
            acting_user=keeper,
            records=[records["controlled"]],
            purpose="research",
            date_from=dt.date(2030, 3, 1),
            date_to=dt.date(2030, 3, 3),
        )
        services.approve_access_request(req, acting_user=approver_secret)
    return req, page


def test_approval_grants_pages_for_the_window_then_expiry_revokes(grant_setup, client_for, keeper):
    req, page = grant_setup
    grant = DigitalGrant.objects.get()
    assert grant.user == keeper and keeper.has_perm(PERM, page)
    url = f"/copies/{grant.pk}/pages/1/"
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        client = client_for(keeper)  # signed in at the frozen time (sessions expire)
        assert client.get(f"/copies/{grant.pk}/").status_code == 200
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(response.content)).size == (120, 160)
    # every view of a controlled record's digital copy is audited
    assert AuditLog.objects.filter(action="borrowing.digital.viewed").count() == 1
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):  # 3 March 10:00 — inside
        client = client_for(keeper)
        assert call_command("expire_grants") is None
        assert client.get(url).status_code == 200
    with time_machine.travel(dt.datetime(2030, 3, 3, 16, 1, tzinfo=dt.UTC), tick=False):
        client = client_for(keeper)
        # 4 March 00:01 Shanghai: the window has ended; the page is 404 even before the job
        assert client.get(url).status_code == 404
        call_command("expire_grants")
        assert client.get(url).status_code == 404
        assert client.get(f"/copies/{grant.pk}/").status_code == 404
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    from accounts.models import User

    fresh = User.objects.get(pk=keeper.pk)
    assert not fresh.has_perm(PERM, page)
    assert AuditLog.objects.filter(action="borrowing.digital.expired").count() == 1


@pytest.mark.parametrize(
    "persona", ["public", "researcher", "front_desk", "approver_secret", "outsider", "admin"]
)
def test_nobody_else_can_use_the_grant(personas, grant_setup, client_for, persona):
    grant = DigitalGrant.objects.get()
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        client = client_for(personas[persona])
        response = client.get(f"/copies/{grant.pk}/pages/1/")
        assert response.status_code in ((302,) if persona == "public" else (404,))


def test_withheld_pages_are_not_granted(keeper, approver_secret, records, staff_see_fonds):
    page = add_page(records["controlled"], 1)
    hidden = add_page(records["controlled"], 2)
    DigitalPage.objects.filter(pk=hidden.pk).update(withheld=True)
    with time_machine.travel(START, tick=False):
        req = services.create_access_request(
            acting_user=keeper,
            records=[records["controlled"]],
            purpose="research",
            date_from=dt.date(2030, 3, 1),
            date_to=dt.date(2030, 3, 1),
        )
        services.approve_access_request(req, acting_user=approver_secret)
    assert keeper.has_perm(PERM, page)
    hidden.refresh_from_db()
    from accounts.models import User

    assert not User.objects.get(pk=keeper.pk).has_perm(PERM, hidden)
