"""JSON logs (issue 18): ISO time with the offset, the request id from nginx or a new one."""

from __future__ import annotations

import json
import logging
import re

from config.logs import JsonFormatter, request_id


def test_a_log_line_is_json_with_an_offset_and_the_request_id():
    record = logging.LogRecord("lantai.x", logging.WARNING, __file__, 1, "库房 %s", ("K01",), None)
    token = request_id.set("abc-123")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert entry["message"] == "库房 K01" and entry["level"] == "WARNING"
    assert entry["request_id"] == "abc-123"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", entry["time"])


def test_the_request_id_comes_from_the_proxy_or_is_made(client, db):
    given = client.get("/livez", headers={"X-Request-ID": "nginx-req-1"})
    assert given["X-Request-ID"] == "nginx-req-1"
    made = client.get("/livez", headers={"X-Request-ID": "bad id\nwith newline"})
    assert re.fullmatch(r"[0-9a-f]{32}", made["X-Request-ID"])
