"""Replacing and deleting a digitised page: the staff page's forms and the API, every persona
through each door. Only those who may change the record's fonds (an archivist or an
administrator with ``change_fonds_records`` on it) can; everybody else gets the answers the
rest of the catalogue gives: the API 403 when signed out and 404 otherwise, the staff pages a
sign-in redirect and 404. Both changes are audited and go through ``repository.images``."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from django.utils import translation
from PIL import Image

from accounts.audit import AuditLog
from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository import images
from repository.choices import AccessStatus
from repository.models import DigitalPage
from tests.repository.conftest import make_item, make_volume

pytestmark = pytest.mark.django_db

PERSONAS = [
    "public",
    "researcher",
    "outsider",
    "front_desk",
    "keeper",
    "approver_secret",
    "archivist_a",
    "admin",
]
MAY_CHANGE = {"archivist_a", "admin"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def png(width: int, height: int = 300) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (250, 248, 240)).save(out, "PNG")
    return out.getvalue()


def upload(width: int = 640) -> SimpleUploadedFile:
    return SimpleUploadedFile("scan.png", png(width), content_type="image/png")


@pytest.fixture
def scanned(ws, personas):
    """An open item of fonds A with two pages. The administrators' role may change fonds A as
    the archivists' does (tests/repository/conftest.py); the approver sees it, may not change."""
    fonds = ws.fonds
    grant("repository.view_fonds_records", role_group(Role.ADMINISTRATOR), fonds)
    grant("repository.change_fonds_records", role_group(Role.ADMINISTRATOR), fonds)
    grant("repository.view_fonds_records", personas["approver_secret"], fonds)
    item = make_item(ws, access_status=AccessStatus.OPEN)
    pages = [images.add_digital_page(item, png(400), acting_user=None) for _ in range(2)]
    return item, pages


def put(client, url: str, data: dict):
    """A multipart PUT (the Django test client sends PUT bodies as they are given)."""
    return client.put(url, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT)


def outcome_of(persona: str, response) -> str:
    if response.status_code in (302, 200, 204) and persona in MAY_CHANGE:
        return "done"
    return str(response.status_code)


def refused(persona: str, *, api: bool) -> str:
    if persona == "public":
        return "403" if api else "302"  # the pages send the signed-out to sign in
    return "404"


@pytest.mark.parametrize("persona", PERSONAS)
def test_replace_through_the_staff_page(scanned, personas, client_for, persona):
    item, (first, _second) = scanned
    client = client_for(personas[persona])
    response = client.post(
        reverse("repository:staff-page-replace", args=[first.pk]), {"image": upload(640)}
    )
    page = DigitalPage.objects.get(pk=first.pk)
    replaced = AuditLog.objects.filter(action="repository.item.page_replaced")
    if persona in MAY_CHANGE:
        assert response.status_code == 302
        assert response["Location"] == reverse("repository:staff-record", args=["item", item.pk])
        assert (page.width, page.format, page.page_number) == (640, "PNG", 1)
        assert replaced.get().actor == personas[persona]
    else:
        assert outcome_of(persona, response) == refused(persona, api=False)
        assert page.width == 400 and not replaced.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_through_the_staff_page(scanned, personas, client_for, persona):
    item, (first, second) = scanned
    client = client_for(personas[persona])
    response = client.post(reverse("repository:staff-page-delete", args=[second.pk]))
    deleted = AuditLog.objects.filter(action="repository.item.page_deleted")
    if persona in MAY_CHANGE:
        assert response.status_code == 302
        assert list(item.pages_digitised.values_list("pk", flat=True)) == [first.pk]
        assert deleted.get().before == {"page": 2}
    else:
        assert outcome_of(persona, response) == refused(persona, api=False)
        assert item.pages_digitised.count() == 2 and not deleted.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_replace_through_the_api(scanned, personas, client_for, persona):
    item, (first, _second) = scanned
    client = client_for(personas[persona])
    url = f"/api/v1/items/{item.pk}/pages/{first.pk}/"
    response = put(client, url, {"image": upload(800)})
    if persona in MAY_CHANGE:
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["id"], body["page_number"], body["width"]) == (first.pk, 1, 800)
        assert AuditLog.objects.filter(action="repository.item.page_replaced").count() == 1
    else:
        assert outcome_of(persona, response) == refused(persona, api=True)
        assert DigitalPage.objects.get(pk=first.pk).width == 400


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_through_the_api(scanned, personas, client_for, persona):
    item, (first, second) = scanned
    client = client_for(personas[persona])
    response = client.delete(f"/api/v1/items/{item.pk}/pages/{first.pk}/")
    if persona in MAY_CHANGE:
        assert response.status_code == 204
        assert list(item.pages_digitised.values_list("pk", flat=True)) == [second.pk]
        assert AuditLog.objects.filter(action="repository.item.page_deleted").count() == 1
    else:
        assert outcome_of(persona, response) == refused(persona, api=True)
        assert item.pages_digitised.count() == 2


def test_a_page_is_addressed_only_under_its_own_record(scanned, ws, personas, client_for):
    item, (first, _second) = scanned
    other = make_item(ws, 2, access_status=AccessStatus.OPEN)
    volume = make_volume(ws, access_status=AccessStatus.OPEN)
    client = client_for(personas["archivist_a"])
    for url in (
        f"/api/v1/items/{other.pk}/pages/{first.pk}/",
        f"/api/v1/volumes/{item.pk}/pages/{first.pk}/",
        f"/api/v1/volumes/{volume.pk}/pages/{first.pk}/",
        f"/api/v1/items/{item.pk}/pages/{10**18}/",
    ):
        assert client.delete(url).status_code == 404, url
    assert item.pages_digitised.count() == 2


def test_a_bad_scan_is_refused_with_a_reason_and_changes_nothing(scanned, personas, client_for):
    item, (first, _second) = scanned
    client = client_for(personas["archivist_a"])
    fake = SimpleUploadedFile("scan.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")
    api = put(client, f"/api/v1/items/{item.pk}/pages/{first.pk}/", {"image": fake})
    assert api.status_code == 400 and api.json()["errors"]
    missing = put(client, f"/api/v1/items/{item.pk}/pages/{first.pk}/", {})
    assert missing.status_code == 400 and "image" in missing.json()["errors"]
    fake.seek(0)
    page = client.post(reverse("repository:staff-page-replace", args=[first.pk]), {"image": fake})
    assert page.status_code == 302
    assert DigitalPage.objects.get(pk=first.pk).width == 400
    assert not AuditLog.objects.filter(action="repository.item.page_replaced").exists()


def test_a_withheld_page_can_be_replaced_and_stays_withheld(scanned, personas, client_for):
    item, (first, _second) = scanned
    DigitalPage.objects.filter(pk=first.pk).update(withheld=True)
    client = client_for(personas["archivist_a"])
    response = put(client, f"/api/v1/items/{item.pk}/pages/{first.pk}/", {"image": upload(500)})
    assert response.status_code == 200 and response.json()["withheld"] is True
    # the researcher cannot even tell that a withheld page exists
    assert (
        client_for(personas["researcher"])
        .delete(f"/api/v1/items/{item.pk}/pages/{first.pk}/")
        .status_code
        == 404
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_record_page_offers_the_buttons_to_those_who_may_use_them(
    scanned, personas, client_for, persona
):
    item, (first, second) = scanned
    response = client_for(personas[persona]).get(
        reverse("repository:staff-record", args=["item", item.pk])
    )
    if persona in ("public", "researcher", "outsider"):
        assert response.status_code in (302, 404)
        return
    body = response.content.decode()
    replace = reverse("repository:staff-page-replace", args=[second.pk])
    delete = reverse("repository:staff-page-delete", args=[second.pk])
    assert (replace in body, delete in body) == (persona in MAY_CHANGE,) * 2


def test_delete_asks_first_in_chinese_and_in_english(scanned, personas, client_for):
    item, _pages = scanned
    client = client_for(personas["archivist_a"])
    url = reverse("repository:staff-record", args=["item", item.pk])
    with translation.override("zh-hans"):
        chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-confirm="删除第 2 页？' in chinese and "替换扫描件" in chinese
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-confirm="Delete page 2? Its scans and its text are removed' in english
