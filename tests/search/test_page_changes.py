"""A page replaced or deleted through its doors (the staff page, the API) leaves search at once,
on every backend: the old words of a replaced page stop matching before its new scan is read
(the page is queued for reading again), and a deleted page's words are gone for everyone —
results, totals, facets, type-ahead — before and after ``search_sync`` drains the outbox."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from PIL import Image

from accounts.choices import Role
from accounts.permissions import grant, role_group
from repository import images
from search.models import OutboxEntry, PageText
from search.outbox import enqueue
from search.query import SearchRequest
from search.services import search_records
from tests.search.conftest import sync

WORDS = "防汛物资清点"


def png(width: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, 300), "white").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def page(settings, tmp_path, indexed, backend, archivist_a):
    """Page 1 of the open record 借阅制度修订, its text read (as ``ocr_pages`` would) and
    indexed; archivist_a may change fonds A."""
    settings.MEDIA_ROOT = tmp_path
    record = indexed["loan"]
    for perm in ("repository.view_fonds_records", "repository.change_fonds_records"):
        grant(perm, role_group(Role.ARCHIVIST), record.fonds)
    added = images.add_digital_page(record, png(), acting_user=archivist_a)
    PageText.objects.filter(page=added).update(text=f"第三次{WORDS}", status=PageText.Status.DONE)
    enqueue(record, force=True)
    sync(backend)
    assert search_records(None, SearchRequest(query=WORDS)).hits
    OutboxEntry.objects.all().delete()
    return record, added


def gone_for_everyone(archivist_a) -> None:
    for user in (None, archivist_a):
        result = search_records(user, SearchRequest(query=WORDS, facets=("fonds",)))
        assert (result.hits, result.total, result.facets["fonds"]) == ([], 0, []), user


@pytest.mark.parametrize("door", ["page", "api"])
def test_a_page_deleted_through_its_door_leaves_search_at_once(
    backend, page, archivist_a, client_for, door
):
    record, added = page
    client = client_for(archivist_a)
    if door == "api":
        response = client.delete(f"/api/v1/items/{record.pk}/pages/{added.pk}/")
        assert response.status_code == 204
    else:
        response = client.post(reverse("repository:staff-page-delete", args=[added.pk]))
        assert response.status_code == 302
    assert not PageText.objects.filter(page_id=added.pk).exists()
    row = OutboxEntry.objects.get()
    assert (row.object_id, row.narrows, row.force) == (record.pk, True, True)
    gone_for_everyone(archivist_a)  # the index still holds the words: hidden until drained
    sync(backend)
    gone_for_everyone(archivist_a)
    assert search_records(None, SearchRequest(query="借阅制度")).hits  # the record stays


@pytest.mark.parametrize("door", ["page", "api"])
def test_a_page_replaced_through_its_door_is_read_again_and_its_old_words_go(
    backend, page, archivist_a, client_for, door
):
    record, added = page
    client = client_for(archivist_a)
    scan = SimpleUploadedFile("new.png", png(700), content_type="image/png")
    if door == "api":
        url = f"/api/v1/items/{record.pk}/pages/{added.pk}/"
        response = client.put(url, encode_multipart(BOUNDARY, {"image": scan}), MULTIPART_CONTENT)
        assert response.status_code == 200
    else:
        url = reverse("repository:staff-page-replace", args=[added.pk])
        assert client.post(url, {"image": scan}).status_code == 302
    entry = PageText.objects.get(page_id=added.pk)
    assert (entry.status, entry.text, entry.attempts) == (PageText.Status.PENDING, "", 0)
    assert OutboxEntry.objects.get().narrows
    gone_for_everyone(archivist_a)
    sync(backend)
    gone_for_everyone(archivist_a)
