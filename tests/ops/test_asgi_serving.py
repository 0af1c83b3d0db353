"""Serving under ASGI (issue 18): static files by ServeStatic in front of Django, and exports
streamed batch by batch through the real ASGI application, without Django's warning about
synchronous iterators (which meant: the whole file read into memory first)."""

from __future__ import annotations

import asyncio
import io
import warnings
from pathlib import Path

import pytest
from django.test import Client
from openpyxl import load_workbook

from config.asgi import application
from config.metrics import HTTP_REQUESTS
from core.streaming import StreamingFileResponse, StreamingResponse
from tests.repository.conftest import fonds_a, make_item, ws  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]


def call(path: str, *, cookie: str = "", method: str = "GET") -> tuple[int, dict, list[bytes]]:
    """One request through the ASGI application; the status, headers and every body message."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"testserver")] + ([(b"cookie", cookie.encode())] if cookie else []),
    }  # fmt: skip
    sent: list[dict] = []
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    bodies = [m.get("body", b"") for m in sent if m["type"] == "http.response.body"]
    return start["status"], headers, bodies


def test_static_files_are_sent_by_servestatic_before_django():
    before = HTTP_REQUESTS.labels("GET", "<unmatched>", "404")._value.get()
    counted = sum(s.value for m in HTTP_REQUESTS.collect() for s in m.samples)
    status, headers, bodies = call("/static/css/lantai.css")
    assert status == 200
    assert b"".join(bodies) == (ROOT / "static" / "css" / "lantai.css").read_bytes()
    assert headers["content-type"].startswith("text/css") and "etag" in headers
    # it never entered Django: no request counted by the middleware
    assert sum(s.value for m in HTTP_REQUESTS.collect() for s in m.samples) == counted
    status, _headers, _bodies = call("/static/css/no-such-file.css")
    assert status == 404  # a missing file falls through to Django's 404
    assert HTTP_REQUESTS.labels("GET", "<unmatched>", "404")._value.get() == before + 1


@pytest.fixture
def exported(transactional_db, ws, archivist_a, monkeypatch):  # noqa: F811
    for n in range(1, 8):
        make_item(ws, n)
    monkeypatch.setattr(StreamingResponse, "parts_per_batch", 2)  # small batches, many sends
    client = Client()
    client.force_login(archivist_a)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_exports_stream_through_asgi_without_the_synchronous_iterator_warning(exported):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, bodies = call("/staff/catalogue/export.csv", cookie=exported)
        xlsx_status, xlsx_headers, xlsx_bodies = call(
            "/staff/catalogue/export.xlsx", cookie=exported
        )
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert status == 200 and headers["content-type"] == "text/csv"
    csv_text = b"".join(bodies).decode("utf-8-sig")
    assert csv_text.count("\n") == 8  # the header and seven records
    # sent as it was read: header + 7 lines in batches of two, not one buffered body
    assert len([b for b in bodies if b]) == 4
    assert xlsx_status == 200
    assert xlsx_headers["content-disposition"] == 'attachment; filename="catalogue.xlsx"'
    assert int(xlsx_headers["content-length"]) == len(b"".join(xlsx_bodies))
    sheet = load_workbook(io.BytesIO(b"".join(xlsx_bodies)), read_only=True).active
    assert len(list(sheet.iter_rows(values_only=True))) == 8


def test_the_climate_csv_streams_through_asgi(transactional_db, keeper, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    from devices.models import Sensor
    from repository.choices import RoomTemplate
    from repository.models import StoreRoom
    from storage_env.models import Reading

    room = StoreRoom.objects.create(code="K01", name="一号库房", template=RoomTemplate.PAPER)
    sensor = Sensor.objects.create(sensor_id="TH-01", room=room, interval_seconds=60)
    now = timezone.now()
    Reading.objects.bulk_create(
        Reading(sensor=sensor, room=room, ts=now - dt.timedelta(minutes=m), temperature=20.0,
                humidity=50.0)
        for m in range(1, 11)
    )  # fmt: skip
    monkeypatch.setattr(StreamingResponse, "parts_per_batch", 4)
    client = Client()
    client.force_login(keeper)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, headers, bodies = call(f"/staff/climate/rooms/{room.pk}/export.csv", cookie=cookie)
    assert not [w for w in caught if "synchronous iterators" in str(w.message)]
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8"
    assert b"".join(bodies).decode("utf-8-sig").count("\n") == 11  # header + ten readings
    assert len([b for b in bodies if b]) == 3  # BOM, header and 10 lines in batches of four


def test_django_would_have_warned_and_buffered_a_plain_streaming_response():
    """What the classes above fix, pinned: Django reads a synchronous iterator whole."""
    from django.http import StreamingHttpResponse

    async def parts(response):
        return [part async for part in response]

    with pytest.warns(Warning, match="synchronous iterators"):
        assert asyncio.run(parts(StreamingHttpResponse(iter([b"a", b"b"])))) == [b"a", b"b"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert asyncio.run(parts(StreamingResponse(iter([b"a", b"b"])))) == [b"ab"]
        file_response = StreamingFileResponse(io.BytesIO(b"x" * 300_000))
        assert b"".join(asyncio.run(parts(file_response))) == b"x" * 300_000
