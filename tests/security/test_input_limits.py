"""Bad input gets a 4xx with a reason, never a 500; every input has a limit.

One test per finding of the outside probe: NUL and lone surrogates in addresses, query strings,
forms and cookies (config/middleware_input.py); numbers from query strings (core.input.parse_int);
text length in every API body and form; labels per PDF; pixels and truncated scans; catalogue
imports (bytes, rows, cells, NUL); an unknown websocket path.
"""

from __future__ import annotations

import csv
import io
import json
import random
import struct
import zlib

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from config.asgi import application
from config.middleware_input import InputValidationMiddleware
from core.consumers import CLOSE_NOT_FOUND
from core.input import InvalidInput, parse_int
from repository import images
from repository.imports import ImportFileError, import_catalogue
from repository.models import Item
from tests.repository.conftest import fonds_a, make_item, room, unit, ws  # noqa: F401
from tests.repository.import_helpers import run_queued_job

pytestmark = pytest.mark.django_db

HEADER = [
    "全宗号",
    "门类代码",
    "题名",
    "日期",
    "保管期限",
    "开放标识",
    "机构（问题）",
    "归档年度",
    "责任者",  # DA/T 18-2022: 必著
]


def row(title: str) -> list[str]:
    return ["J012", "WS", title, "2019-03-05", "永久", "未审核", "BGS", "2019", "某局"]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# --- the edge: path, query string, form, cookies ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/items/?q=%00",
        "/catalogue/fonds/%00/",
        "/search/suggest/?q=%00",
        "/search/?q=a%01b",
        "/catalogue/?fonds=%7F",
        "/api/v1/search/?q=%C2%85",  # C1 control (NEL)
    ],
)
def test_nul_and_control_characters_are_refused_at_the_edge(url):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(url)
    assert response.status_code == 400
    body = response.content.decode()
    assert "not allowed" in body and ("U+0000" in body or "U+00" in body)


def test_api_refusal_is_json_and_page_refusal_speaks_chinese():
    response = Client().get("/api/v1/items/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert "U+0000" in response.json()["detail"] and "“q”" in response.json()["detail"]
    page = Client().get("/catalogue/", {"q": "a\x00b"})
    assert page.status_code == 400 and "不允许" in page.content.decode()
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/catalogue/", {"q": "a\x00b"})
    assert "not allowed" in english.content.decode()


def test_tab_newline_and_chinese_pass():
    response = Client().get("/search/", {"q": "档案\t工作\n通知"})
    assert response.status_code == 200


def asgi_request(path: bytes, query: bytes) -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path.decode("utf-8", errors="replace"),
        "raw_path": path,
        "query_string": query,
        "headers": [(b"host", b"testserver")],
        "root_path": "",
    }
    return ASGIRequest(scope, io.BytesIO())


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (b"/api/v1/items/", b"q=%ED%A0%80"),  # a lone surrogate, percent-encoded
        (b"/api/v1/items/", b"%ED%A0%80=1"),
        (b"/api/v1/items/", b"q=%FF"),
        (b"/catalogue/fonds/%ED%A0%80/", b""),
    ],
)
def test_invalid_utf8_is_refused_under_asgi(path, query):
    middleware = InputValidationMiddleware(lambda request: HttpResponse("reached the view"))
    with translation.override("en"):
        response = middleware(asgi_request(path, query))
    assert response.status_code == 400 and b"UTF-8" in response.content


def test_long_query_value_is_refused(settings):
    settings.QUERY_VALUE_MAX_LENGTH = 100
    assert Client().get("/api/v1/items/", {"q": "x" * 100}).status_code != 400
    response = Client().get("/api/v1/items/", {"q": "x" * 101})
    assert response.status_code == 400 and "100" in response.json()["detail"]


def test_form_values_are_checked_like_query_values(settings):
    settings.TEXT_MAX_LENGTH = 50
    client = Client(enforce_csrf_checks=False)
    response = client.post("/accounts/login/", {"username": "a\x00", "password": "x"})
    assert response.status_code == 400
    response = client.post("/accounts/login/", {"username": "u" * 51, "password": "x"})
    assert response.status_code == 400


def test_broken_multipart_body_is_a_400_not_a_500():
    client = Client(raise_request_exception=False)
    response = client.post(
        "/accounts/login/",
        data=b"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\n",
        content_type="multipart/form-data; boundary=",
    )
    assert response.status_code == 400


def test_session_cookie_with_nul_is_refused():
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "abcdefgh\x00"
    response = client.get("/requests/")
    assert response.status_code == 400


def test_body_over_the_limit_is_refused_from_content_length(settings, archivist_a):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = Client()
    client.force_login(archivist_a)
    body = json.dumps({"title": "x" * 2000})
    response = client.post("/api/v1/items/", body, content_type="application/json")
    assert response.status_code == 413 and "1000" not in response.json()["detail"]
    assert "KB" in response.json()["detail"]


# --- strict numbers from query strings --------------------------------------------------------


@pytest.mark.parametrize("text", ["²", "٣", " 1", "1 ", "1_000", "+1", "0x10", "1.0", "9" * 21])
def test_parse_int_refuses_what_int_would_half_accept(text):
    with pytest.raises(InvalidInput):
        parse_int(text, min_value=0, max_value=10**30)


def test_parse_int_bounds_and_default():
    assert parse_int("", min_value=1, max_value=5, default=3) == 3
    assert parse_int(None, min_value=1, max_value=5) is None
    assert parse_int("-2", min_value=-5, max_value=5) == -2
    with pytest.raises(InvalidInput, match="between 1 and 5"), translation.override("en"):
        parse_int("6", min_value=1, max_value=5)
    with pytest.raises(InvalidInput):
        parse_int("-2", min_value=0, max_value=5)


@pytest.mark.parametrize("size", ["²", "٣", "9" * 25, "9" * 1000])
def test_size_and_filters_in_query_strings_are_400(size, ws, archivist_a):  # noqa: F811
    client = Client(raise_request_exception=False)
    client.force_login(archivist_a)
    for url in ("/api/v1/items/", "/staff/catalogue/", f"/catalogue/fonds/J012/{ws.code}/"):
        assert client.get(url, {"size": size}).status_code == 400, url
    assert client.get("/staff/catalogue/", {"category": size}).status_code == 400
    assert client.get("/staff/locations/boxes/", {"room": size}).status_code == 400


def test_api_ids_longer_than_a_bigint_are_404(keeper):
    client = Client(raise_request_exception=False)
    client.force_login(keeper)
    for digits in (20, 400, 5000):  # 5000: int() itself refuses (it was a 500 here)
        assert client.get(f"/api/v1/sensors/{'9' * digits}/").status_code == 404
    assert client.get(f"/api/v1/sensors/{'9' * 19}/").status_code == 404  # a bigint: looked up


def test_fonds_permission_pages_with_a_non_number_are_404(admin_user, fonds_a):  # noqa: F811
    type(admin_user).objects.filter(pk=admin_user.pk).update(is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    base = "/staff/admin/repository/fonds"
    assert client.get(f"{base}/{fonds_a.pk}/permissions/").status_code == 200
    for url in (
        f"{base}/abc/permissions/",
        f"{base}/{fonds_a.pk}/permissions/user-manage/x/",
        f"{base}/{fonds_a.pk}/permissions/group-manage/%D9%A3/",
    ):
        assert client.get(url).status_code == 404, url


# --- text length in every API body and form ---------------------------------------------------


def test_notes_of_two_million_characters_are_refused(ws, archivist_a):  # noqa: F811
    client = Client()
    client.force_login(archivist_a)
    payload = {
        "fonds": ws.fonds.pk,
        "category": ws.pk,
        "title": "通知",
        "creator": "某局",  # DA/T 18-2022: 必著
        "date": "2019-02-28",
        "retention": "Y",
        "org_unit": "BGS",
        "filing_year": 2019,
        "notes": "附" * 2_000_000,
    }
    response = client.post("/api/v1/items/", payload, content_type="application/json")
    assert response.status_code in (400, 413)
    assert not Item.objects.exists()
    payload["notes"] = "附" * 20_001
    response = client.post("/api/v1/items/", payload, content_type="application/json")
    assert response.status_code == 400 and "notes" in response.json()["errors"]
    payload["notes"] = "附" * 20_000
    response = client.post("/api/v1/items/", payload, content_type="application/json")
    assert response.status_code == 201, response.json()


def test_nul_inside_json_is_refused_before_the_database(ws, archivist_a):  # noqa: F811
    client = Client()
    client.force_login(archivist_a)
    body = json.dumps({"codes": ["A\u0000B"], "size": "a4"})
    response = client.post("/api/v1/labels/", body, content_type="application/json")
    assert response.status_code == 400 and "codes[0]" in response.json()["errors"]
    body = '{"codes": ["\\ud800"], "size": "a4"}'
    response = client.post("/api/v1/labels/", body, content_type="application/json")
    assert response.status_code == 400


# --- labels -----------------------------------------------------------------------------------


def test_labels_api_and_page_refuse_more_than_the_limit(settings, ws, unit, archivist_a):  # noqa: F811
    settings.LABELS_MAX = 3
    codes = [make_item(ws, n).reference_code for n in range(1, 5)]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(archivist_a)
    response = client.post("/api/v1/labels/", {"codes": codes}, content_type="application/json")
    assert response.status_code == 400
    assert "At most 3 labels" in response.json()["errors"]["codes"][0]
    response = client.post("/api/v1/labels/", {"unit": unit.pk}, content_type="application/json")
    assert response.status_code == 400 and "At most 3" in json.dumps(response.json())
    response = client.post("/api/v1/labels/", {"codes": codes[:3]}, content_type="application/json")
    assert response.status_code == 200
    page = client.post(
        reverse("repository:staff-labels"), {"codes": "\n".join(codes), "size": "a4"}
    )
    assert page.status_code == 200 and "At most 3 labels" in page.content.decode()


# --- images -----------------------------------------------------------------------------------


def noisy_jpeg(size=(400, 300)) -> bytes:
    rng = random.Random(7)
    image = Image.frombytes(
        "RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3))
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_truncated_jpeg_is_refused_at_upload(ws, archivist_a):  # noqa: F811
    data = noisy_jpeg()
    truncated = data[: len(data) * 2 // 3]
    Image.open(io.BytesIO(truncated)).verify()  # what let it through before
    with pytest.raises(ValidationError) as caught:
        images.inspect_image(truncated)
    assert caught.value.code == "image_damaged"
    item = make_item(ws)
    client = Client(raise_request_exception=False)
    client.force_login(archivist_a)
    response = client.post(
        f"/api/v1/items/{item.pk}/pages/",
        {"image": SimpleUploadedFile("p.jpg", truncated, "image/jpeg")},
    )
    assert response.status_code == 400
    assert not item.pages_digitised.exists()


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_pixel_limit_refuses_a_9400_square_png_before_decoding():
    with pytest.raises(ValidationError) as caught:
        images.inspect_image(png_header(9400, 9400))
    assert caught.value.code == "image_bomb"
    assert Image.MAX_IMAGE_PIXELS == 50_000_000  # Pillow's own guard, from the same setting


# --- imports ----------------------------------------------------------------------------------


def test_nul_after_the_first_kilobyte_is_a_file_error_in_dry_run_and_commit(ws):  # noqa: F811
    rows = [row(f"通知 {n}") for n in range(40)]
    rows[30][2] = "含\x00空字符"
    data = as_csv(rows)
    assert data.index(b"\x00") > 1024
    for dry_run in (True, False):
        with pytest.raises(ImportFileError, match="NUL"):
            import_catalogue(data, "list.csv", acting_user=None, dry_run=dry_run)
    assert not Item.objects.exists()


def test_a_cell_over_the_csv_field_limit_is_a_row_error(ws):  # noqa: F811
    rows = [row("好"), row("长" * 131_073), row("也好")]
    report = import_catalogue(as_csv(rows), "list.csv", acting_user=None, dry_run=False)
    assert report.written == 2 and [e.row for e in report.errors] == [3]
    assert "20000" in report.errors[0].reason
    assert Item.objects.count() == 2


def test_import_row_and_byte_limits(ws, settings):  # noqa: F811
    settings.IMPORT_MAX_ROWS = 2
    data = as_csv([row("一"), row("二"), row("三")])
    with pytest.raises(ImportFileError, match="2"):
        import_catalogue(data, "list.csv", acting_user=None, dry_run=False)
    assert not Item.objects.exists()
    settings.IMPORT_MAX_ROWS = 10
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportFileError):
        import_catalogue(data, "list.csv", acting_user=None, dry_run=True)


def test_import_page_shows_the_nul_error(ws, archivist_a):  # noqa: F811
    client = Client(raise_request_exception=False)
    client.force_login(archivist_a)
    rows = [row(f"通知 {n}") for n in range(40)]
    rows[35][2] = "\x00"
    upload = SimpleUploadedFile("list.csv", as_csv(rows), "text/csv")
    response = client.post(
        reverse("repository:staff-import"), {"file": upload, "kind": "item", "encoding": ""}
    )
    response = run_queued_job(client, response)  # the import runs in the background
    assert response.status_code == 200 and "NUL" in response.content.decode()


# --- websockets -------------------------------------------------------------------------------


def test_unknown_websocket_path_closes_with_4404():
    async def connect():
        communicator = WebsocketCommunicator(
            application, "/ws/no-such-thing/", headers=[(b"origin", b"http://testserver")]
        )
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(connect)() == (False, CLOSE_NOT_FOUND)


def test_derivatives_from_one_decoding_keep_the_exif_rotation():
    image = Image.new("RGB", (200, 100), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    web, thumbnail = images.derivatives(out.getvalue())
    assert Image.open(io.BytesIO(web)).size == (100, 200)
    assert Image.open(io.BytesIO(thumbnail)).size == (100, 200)
