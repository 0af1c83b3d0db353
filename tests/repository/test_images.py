"""Digitised pages: real-format validation, pixel cap, metadata stripped, watermark, doors."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from repository import images
from repository.choices import AccessStatus
from repository.models import DigitalPage
from tests.repository.conftest import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def jpeg_with_exif(size=(800, 600)) -> bytes:
    image = Image.new("RGB", size, (240, 235, 220))
    exif = Image.Exif()
    exif[0x010F] = "ScannerMaker"  # Make
    exif[0x8825] = {2: (30.0, 15.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_accepts_jpeg_png_tiff():
    for fmt in ("JPEG", "PNG", "TIFF"):
        out = io.BytesIO()
        Image.new("RGB", (50, 40)).save(out, fmt)
        assert images.inspect_image(out.getvalue()) == (fmt, 50, 40)


def test_renamed_pdf_is_refused():
    with pytest.raises(ValidationError, match="is a PDF"):
        images.inspect_image(b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF")


def test_gif_is_refused_by_content():
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    with pytest.raises(ValidationError, match="GIF"):
        images.inspect_image(out.getvalue())


def test_pixel_bomb_is_refused_from_the_header():
    with pytest.raises(ValidationError, match="pixels"):
        images.inspect_image(png_header_only(100_000, 100_000))


def test_project_pixel_cap(settings):
    settings.IMAGE_MAX_PIXELS = 10_000
    with pytest.raises(ValidationError, match="800 × 600"):
        images.inspect_image(jpeg_with_exif())


def test_truncated_image_is_refused():
    with pytest.raises(ValidationError):
        images.inspect_image(jpeg_with_exif()[:300])


def test_add_page_strips_metadata_and_makes_derivatives(ws, archivist_a):
    item = make_item(ws)
    page = images.add_digital_page(
        item, SimpleUploadedFile("p.jpg", jpeg_with_exif()), acting_user=archivist_a
    )
    assert page.page_number == 1 and page.format == "JPEG"
    for stored in (page.web, page.thumbnail):
        with stored.open("rb") as handle:
            derived = Image.open(io.BytesIO(handle.read()))
        assert not derived.getexif()
        assert "exif" not in derived.info
    with page.thumbnail.open("rb") as handle:
        assert max(Image.open(handle).size) <= images.THUMB_SIZE
    with pytest.raises(ValidationError, match="already exists"):
        images.add_digital_page(
            item,
            SimpleUploadedFile("p.jpg", jpeg_with_exif()),
            acting_user=archivist_a,
            page_number=1,
        )


def test_bad_upload_changes_nothing(ws, archivist_a):
    item = make_item(ws)
    with pytest.raises(ValidationError):
        images.add_digital_page(
            item, SimpleUploadedFile("scan.jpg", b"%PDF-1.4"), acting_user=archivist_a
        )
    assert not DigitalPage.objects.exists()


def test_watermark_changes_pixels_and_uses_chinese_text():
    base = Image.new("RGB", (400, 300), (255, 255, 255))
    marked = images.apply_watermark(base)
    assert marked.size == base.size
    assert marked.getextrema() != base.getextrema()
    assert set(images.STROKES) == set(images.WATERMARK_TEXT)


def test_public_sees_watermarked_never_original(ws, archivist_a, researcher, client_for):
    item = make_item(ws, access_status=AccessStatus.OPEN)
    page = images.add_digital_page(
        item, SimpleUploadedFile("p.jpg", jpeg_with_exif()), acting_user=archivist_a
    )
    web = reverse("repository:page-image", args=[page.pk, "web"])
    original = reverse("repository:staff-page-original", args=[page.pk])
    staff_bytes = client_for(archivist_a).get(web).content
    public = client_for(None).get(web)
    assert public.status_code == 200 and public.content != staff_bytes
    with page.web.open("rb") as handle:
        assert staff_bytes == handle.read()
    assert client_for(None).get(original).status_code == 302
    assert client_for(researcher).get(original).status_code == 404
    assert client_for(archivist_a).get(original).status_code == 200


def test_withheld_and_hidden_pages_are_not_found(ws, archivist_a, client_for):
    from repository import services
    from repository.choices import OpeningDecision

    item = make_item(ws, year=1990)
    for _ in range(2):
        images.add_digital_page(
            item, SimpleUploadedFile("p.jpg", jpeg_with_exif()), acting_user=archivist_a
        )
    first, second = DigitalPage.objects.order_by("page_number")
    anonymous = client_for(None)
    assert (
        anonymous.get(reverse("repository:page-image", args=[first.pk, "thumb"])).status_code == 404
    )
    services.decide_opening(
        item,
        OpeningDecision.PARTIAL,
        acting_user=archivist_a,
        reason="第2页涉及隐私",
        withheld_pages=[2],
    )
    assert (
        anonymous.get(reverse("repository:page-image", args=[first.pk, "thumb"])).status_code == 200
    )
    assert (
        anonymous.get(reverse("repository:page-image", args=[second.pk, "thumb"])).status_code
        == 404
    )
    page = anonymous.get(
        reverse("repository:public-record", args=["item", item.pk])
    ).content.decode()
    assert reverse("repository:page-image", args=[second.pk, "thumb"]) not in page
    staff = client_for(archivist_a)
    assert staff.get(reverse("repository:page-image", args=[second.pk, "thumb"])).status_code == 200


def test_upload_through_staff_page(ws, archivist_a, client_for):
    item = make_item(ws)
    url = reverse("repository:staff-page-upload", args=["item", item.pk])
    client = client_for(archivist_a)
    client.post(url, {"image": SimpleUploadedFile("fake.jpg", b"%PDF-1.4 xx")})
    assert not DigitalPage.objects.exists()
    client.post(url, {"image": SimpleUploadedFile("p.jpg", jpeg_with_exif())})
    assert DigitalPage.objects.count() == 1


def test_pages_api(ws, archivist_a, researcher, client_for):
    item = make_item(ws, access_status=AccessStatus.OPEN)
    staff = client_for(archivist_a)
    url = f"/api/v1/items/{item.pk}/pages/"
    bad = staff.post(url, {"image": SimpleUploadedFile("x.jpg", b"%PDF-1.4 x")})
    assert bad.status_code == 400 and "PDF" in str(bad.json()["errors"])
    created = staff.post(url, {"image": SimpleUploadedFile("p.jpg", jpeg_with_exif())})
    assert created.status_code == 201 and created.json()["page_number"] == 1
    assert (
        client_for(researcher)
        .post(url, {"image": SimpleUploadedFile("p.jpg", jpeg_with_exif())})
        .status_code
        == 404
    )
    listed = client_for(None).get(url).json()
    assert [p["page_number"] for p in listed] == [1]
    hidden = make_item(ws, 2)
    assert client_for(None).get(f"/api/v1/items/{hidden.pk}/pages/").status_code == 404
