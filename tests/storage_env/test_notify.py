"""Alarm notifications: channels, the queue written with the alarm, sending with retries.

Against real receivers: an HTTP server on 127.0.0.1 (a random port) that records every request
and answers as told (ok, 500, errcode ≠ 0, hang), and an aiosmtpd SMTP server.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone, translation

from accounts.models import AuditLog
from repository.choices import RoomTemplate
from repository.models import StoreRoom
from storage_env import notify, services
from storage_env.choices import AlarmRule, ChannelKind, DeliveryState, Severity
from storage_env.models import (
    Alarm,
    NotificationChannel,
    NotificationDelivery,
    validate_event_list,
)
from tests.gates import require_postgresql

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "98975521a1b23c02cdd1a9a08c69511ddf5fa9d2ae387813d1c5348fb"
DING_SECRET = "SEC19dd84be8c7f3cf71761974f1ed3ef77c1451906ae8ba18acf56103ee"


# --- Receivers ------------------------------------------------------------------------------


class Receiver:
    """A real HTTP server that records requests. ``mode``: ok | 500 | errcode | hang."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"
        self.delay = 0.0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": parts.path,
                            "query": parse_qs(parts.query),
                            "headers": dict(self.headers),
                            "json": json.loads(raw or b"null"),
                        }
                    )
                mode = receiver.mode
                if receiver.delay:
                    time.sleep(receiver.delay)
                if mode == "hang":
                    receiver.release.wait(30)
                    return
                status, answer = {
                    "ok": (200, {"errcode": 0, "errmsg": "ok"}),
                    "500": (500, {"error": "boom"}),
                    "errcode": (200, {"errcode": 310000, "errmsg": "keywords not in content"}),
                }[mode]
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailBox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "lantai@archive.example.org"
    yield box
    controller.stop()


# --- Data -----------------------------------------------------------------------------------


@pytest.fixture
def room2(db):
    return StoreRoom.objects.create(code="K02", name="二号库房", template=RoomTemplate.PAPER)


def channel(name, kind=ChannelKind.WEBHOOK, target="http://127.0.0.1:9/hook", rooms=(), **kw):
    ch = NotificationChannel(name=name, kind=kind, target=target, **kw)
    ch.full_clean()
    ch.save()
    ch.rooms.set(rooms)
    return ch


def raise_in(room, rule=AlarmRule.HUMIDITY_HIGH, severity=Severity.MAJOR, subject=None, value=66):
    alarm, created = services.raise_alarm(
        rule,
        subject or f"room:{room.code}:{rule}",
        message="湿度高于 60 %RH",
        room_id=room.pk,
        severity=severity,
        value=value,
    )
    assert created
    return alarm


def deliveries(**filters):
    return NotificationDelivery.objects.filter(**filters)


def zh(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


def later(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


# --- Enqueueing -----------------------------------------------------------------------------


def test_channels_are_chosen_by_room_severity_event_and_enabled(room, room2):
    every = channel("every room")
    only_k02 = channel("K02 only", rooms=[room2])
    critical = channel("critical only", min_severity=Severity.CRITICAL)
    cleared_only = channel("cleared only", events="cleared")
    channel("off", enabled=False)

    major_k01 = raise_in(room)
    assert {d.channel for d in deliveries(alarm=major_k01)} == {every}
    critical_k02 = raise_in(room2, severity=Severity.CRITICAL)
    assert {d.channel for d in deliveries(alarm=critical_k02)} == {every, only_k02, critical}
    minor_k02 = raise_in(room2, rule=AlarmRule.LOW_BATTERY, severity=Severity.MINOR)
    assert {d.channel for d in deliveries(alarm=minor_k02)} == {every, only_k02}

    services.clear_alarm(major_k01.rule, major_k01.subject)
    cleared = deliveries(alarm=major_k01, event="cleared")
    assert {d.channel for d in cleared} == {every, cleared_only}
    assert all(d.state == DeliveryState.PENDING and d.attempts == 0 for d in cleared)


def test_an_alarm_without_a_room_goes_only_to_every_room_channels(room):
    every = channel("every room")
    channel("K01 only", rooms=[room])
    alarm, _ = services.raise_alarm(AlarmRule.DEVICE, "sensor:X:door", message="门磁")
    assert {d.channel for d in deliveries(alarm=alarm)} == {every}


def test_delivery_is_written_in_the_alarm_transaction(room):
    channel("every room")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        alarm = raise_in(room)
        assert deliveries(alarm=alarm).count() == 1  # already there, before any commit
        raise Rollback
    assert not Alarm.objects.exists()
    assert not NotificationDelivery.objects.exists()


def test_each_reminder_is_new_but_an_event_is_never_queued_twice(room, keeper):
    channel("every room")
    alarm = raise_in(room)
    assert notify.enqueue_alarm_notifications(alarm, "alarm.raised") == 1
    assert deliveries(alarm=alarm).count() == 1  # the same event again: nothing new

    alarm = services.escalate_alarm(alarm)
    assert list(deliveries(alarm=alarm, event="escalated").values_list("sequence", flat=True)) == [
        1
    ]
    alarm = services.acknowledge_alarm(alarm, acting_user=keeper)
    assert not deliveries(alarm=alarm).exclude(event__in=["raised", "escalated"]).exists()

    alarm = services.remind_alarm(alarm, now=later(3600))
    alarm = services.remind_alarm(alarm, now=later(7200))
    reminders = deliveries(alarm=alarm, event="reminded").order_by("sequence")
    assert list(reminders.values_list("sequence", flat=True)) == [1, 2]


# --- Message formats ------------------------------------------------------------------------


def test_wecom_robot_gets_a_markdown_message(room, receiver):
    ch = channel(
        "企业微信群", ChannelKind.WECOM, receiver.url(f"/cgi-bin/webhook/send?key={WECOM_KEY}")
    )
    alarm = raise_in(room, severity=Severity.CRITICAL)
    assert notify.send_due(now=later(1)) == {"sent": 1}

    [request] = receiver.requests
    assert request["path"] == "/cgi-bin/webhook/send"
    assert request["query"] == {"key": [WECOM_KEY]}
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = request["json"]
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert content.startswith("**") and "K01 一号库房" in content
    assert zh(AlarmRule.HUMIDITY_HIGH.label) in content and zh(Severity.CRITICAL.label) in content
    assert "66" in content and f"/staff/climate/rooms/{room.pk}/" in content
    delivery = deliveries(channel=ch).get()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1
    assert delivery.sent_at is not None and delivery.last_error == ""
    assert alarm.notifications.get() == delivery


def test_dingtalk_robot_gets_a_signed_markdown_message(room, receiver):
    channel(
        "钉钉群",
        ChannelKind.DINGTALK,
        receiver.url(f"/robot/send?access_token={DING_TOKEN}"),
        secret=DING_SECRET,
    )
    raise_in(room)
    assert notify.send_due(now=later(1)) == {"sent": 1}

    [request] = receiver.requests
    query = request["query"]
    assert set(query) == {"access_token", "timestamp", "sign"}
    assert query["access_token"] == [DING_TOKEN]
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) - time.time() * 1000) < 3_600_000  # DingTalk allows one hour
    expected = base64.b64encode(
        hmac.new(
            DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert query["sign"] == [expected]  # parse_qs undid the URL encoding
    body = request["json"]
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert "K01" in body["markdown"]["title"] and "告警" in body["markdown"]["title"]
    assert body["markdown"]["text"].startswith("#### ") and "66" in body["markdown"]["text"]


def test_dingtalk_sign_matches_the_documented_algorithm():
    # Python sample of DingTalk's docs: quote_plus(b64encode(hmac(secret, "ts\nsecret"))).
    sign = notify.dingtalk_sign("this is secret", 1577808000000)
    digest = hmac.new(b"this is secret", b"1577808000000\nthis is secret", hashlib.sha256)
    assert sign == base64.b64encode(digest.digest()).decode().replace("+", "%2B").replace(
        "/", "%2F"
    ).replace("=", "%3D")


def test_dingtalk_without_a_secret_is_not_signed(room, receiver):
    channel("钉钉", ChannelKind.DINGTALK, receiver.url(f"/robot/send?access_token={DING_TOKEN}"))
    raise_in(room)
    notify.send_due(now=later(1))
    assert receiver.requests[0]["query"] == {"access_token": [DING_TOKEN]}


def test_json_webhook_gets_the_alarm_and_an_absolute_link(room, receiver, settings):
    settings.SITE_URL = "https://archive.example.org"
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hooks/lantai"))
    alarm = raise_in(room)
    assert notify.send_due(now=later(1)) == {"sent": 1}
    body = receiver.requests[0]["json"]
    assert body["event"] == "alarm.raised" and body["sequence"] == 1
    assert body["alarm"]["id"] == alarm.pk and body["alarm"]["room"] == "K01"
    assert body["alarm"]["severity"] == "major" and body["alarm"]["value"] == 66
    assert body["url"] == f"https://archive.example.org/staff/climate/rooms/{room.pk}/"
    assert "K01 一号库房" in body["title"] and "K01 一号库房" in body["text"]


def test_email_names_room_rule_severity_value_and_link(room, smtp, settings):
    settings.SITE_URL = "https://archive.example.org"
    channel("值班邮箱", ChannelKind.EMAIL, "keeper@archive.example.org, boss@archive.example.org")
    raise_in(room)
    assert notify.send_due(now=later(1)) == {"sent": 1}

    [envelope] = smtp.envelopes
    assert envelope.mail_from == "lantai@archive.example.org"
    assert sorted(envelope.rcpt_tos) == ["boss@archive.example.org", "keeper@archive.example.org"]
    mail = message_from_bytes(envelope.original_content)
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject.startswith("[兰台] ") and "K01 一号库房" in subject
    body = mail.get_payload(decode=True).decode(mail.get_content_charset())
    assert "K01 一号库房" in body and "66" in body
    assert zh(AlarmRule.HUMIDITY_HIGH.label) in body and zh(Severity.MAJOR.label) in body
    assert f"https://archive.example.org/staff/climate/rooms/{room.pk}/" in body


def test_email_to_an_unreachable_server_is_retried_not_sent(room, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    channel("mail", ChannelKind.EMAIL, "keeper@archive.example.org")
    raise_in(room)
    assert notify.send_due(now=later(1)) == {"retry": 1}
    delivery = deliveries().get()
    assert delivery.state == DeliveryState.PENDING and delivery.sent_at is None
    assert delivery.last_error.startswith("SMTP")


# --- Retries --------------------------------------------------------------------------------


def test_failure_is_retried_with_backoff_and_sent_later(room, receiver):
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    start = later(1)
    receiver.mode = "500"
    assert notify.send_due(now=start) == {"retry": 1}
    d = deliveries().get()
    assert (d.state, d.attempts, d.last_error, d.sent_at) == ("pending", 1, "HTTP 500", None)
    assert d.next_attempt_at == start + dt.timedelta(seconds=30)

    assert notify.send_due(now=start + dt.timedelta(seconds=29)) == {}  # not due yet
    assert notify.send_due(now=start + dt.timedelta(seconds=30)) == {"retry": 1}
    d.refresh_from_db()
    assert d.attempts == 2 and d.next_attempt_at == start + dt.timedelta(seconds=90)

    receiver.mode = "ok"
    assert notify.send_due(now=start + dt.timedelta(seconds=90)) == {"sent": 1}
    d.refresh_from_db()
    assert (d.state, d.attempts, d.last_error) == ("sent", 3, "")
    assert len(receiver.requests) == 3
    assert notify.send_due(now=start + dt.timedelta(hours=5)) == {}  # never sent again


def test_backoff_doubles_and_is_capped_at_an_hour():
    assert [notify.backoff(n).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_robot_errcode_is_a_failure_even_with_http_200(room, receiver):
    channel("wecom", ChannelKind.WECOM, receiver.url(f"/send?key={WECOM_KEY}"))
    raise_in(room)
    receiver.mode = "errcode"
    assert notify.send_due(now=later(1)) == {"retry": 1}
    d = deliveries().get()
    assert d.state == DeliveryState.PENDING and d.sent_at is None
    assert d.last_error == "errcode 310000: keywords not in content"


def test_a_hanging_receiver_times_out_and_is_retried(room, receiver, settings):
    settings.NOTIFICATION_TIMEOUT = 1
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    receiver.mode = "hang"
    assert notify.send_due(now=later(1)) == {"retry": 1}
    d = deliveries().get()
    assert d.state == DeliveryState.PENDING and d.sent_at is None
    assert "1 s" in d.last_error or "timed out" in d.last_error


def test_gives_up_after_max_attempts(room, receiver):
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    receiver.mode = "500"
    now = later(1)
    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        counts = notify.send_due(now=now)
        assert sum(counts.values()) == 1
        now += notify.backoff(attempt)
    assert counts == {"failed": 1}
    d = deliveries().get()
    assert (d.state, d.attempts, d.next_attempt_at, d.sent_at) == (
        "failed",
        notify.MAX_ATTEMPTS,
        None,
        None,
    )
    assert notify.send_due(now=now + dt.timedelta(days=1)) == {}
    assert len(receiver.requests) == notify.MAX_ATTEMPTS


def test_secrets_stay_out_of_errors_and_logs(room, caplog):
    secret_path = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    channel(
        "hook", ChannelKind.WEBHOOK, f"http://127.0.0.1:{free_port()}/{secret_path}?token=s3cr3t"
    )
    channel(
        "ding",
        ChannelKind.DINGTALK,
        f"http://127.0.0.1:{free_port()}/robot/send?access_token={DING_TOKEN}",
        secret=DING_SECRET,
    )
    raise_in(room)
    with caplog.at_level("INFO"):
        assert notify.send_due(now=later(1)) == {"retry": 2}
    stored = " ".join(deliveries().values_list("last_error", flat=True))
    for text in (stored, caplog.text):
        assert "s3cr3t" not in text and DING_TOKEN not in text and DING_SECRET not in text
        assert "XXXXXXXXXXXXXXXXXXXXXXXX" not in text
    assert "access_token=***" in caplog.text
    assert notify.redact_url(f"https://h:8443/{secret_path}?token=s3cr3t") == (
        "https://h:8443/T00000000/…?token=***"
    )


def test_a_disabled_channel_sends_nothing(room, receiver):
    ch = channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    ch.enabled = False
    ch.save()
    assert notify.send_due(now=later(1)) == {"failed": 1}
    assert receiver.requests == []
    assert deliveries().get().last_error == "channel disabled"


def test_one_failing_delivery_does_not_stop_the_others(room, receiver, monkeypatch):
    channel("a", ChannelKind.WEBHOOK, receiver.url("/a"))
    channel("b", ChannelKind.WEBHOOK, receiver.url("/b"))
    raise_in(room)
    real = notify.alarm_message

    def broken(alarm, event, sequence=1, **options):
        if broken.calls == 0:
            broken.calls += 1
            raise RuntimeError("a bug")
        return real(alarm, event, sequence, **options)

    broken.calls = 0
    monkeypatch.setattr(notify, "alarm_message", broken)
    assert notify.send_due(now=later(1)) == {"retry": 1, "sent": 1}
    assert "RuntimeError: a bug" in deliveries(state="pending").get().last_error


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_the_same_delivery(receiver):
    require_postgresql()
    rooms = [
        StoreRoom.objects.create(code=f"C{i}", name=f"库房{i}", template=RoomTemplate.PAPER)
        for i in range(4)
    ]
    for i in range(3):
        channel(f"hook {i}", ChannelKind.WEBHOOK, receiver.url(f"/hook/{i}"))
    for r in rooms:
        raise_in(r)
    total = NotificationDelivery.objects.count()
    assert total == 12
    receiver.delay = 0.02  # keep each worker busy while the other claims
    now = later(1)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            while notify.send_due(now=now, limit=2):
                pass
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    sent = [(r["path"], r["json"]["alarm"]["id"]) for r in receiver.requests]
    assert len(sent) == total and len(set(sent)) == total
    assert set(NotificationDelivery.objects.values_list("state", flat=True)) == {"sent"}
    assert set(NotificationDelivery.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_a_delivery_locked_by_another_worker_is_skipped_not_waited_for(room, receiver):
    require_postgresql()
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    now = later(1)
    locked, done = threading.Event(), threading.Event()

    def other_worker() -> None:  # holds its claim's row lock until we are done
        try:
            with transaction.atomic():
                list(NotificationDelivery.objects.select_for_update())
                locked.set()
                done.wait(10)
                NotificationDelivery.objects.update(next_attempt_at=now + notify.CLAIM_LEASE)
        finally:
            connections.close_all()

    holder = threading.Thread(target=other_worker)
    holder.start()
    assert locked.wait(30)
    counts = notify.send_due(now=now)
    done.set()
    holder.join(30)
    assert counts == {} and receiver.requests == []


# --- The worker command ---------------------------------------------------------------------


def test_command_once_sends_what_is_due(room, receiver):
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    raise_in(room, rule=AlarmRule.TEMPERATURE_HIGH)
    out = []

    class Out:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    call_command("send_notifications", "--once", "--limit", "1", stdout=Out())
    assert len(receiver.requests) == 2
    assert "2 sent" in "".join(out)


def test_command_loop_crash_exits_with_the_error(monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("bug in send_due")

    monkeypatch.setattr(notify, "send_due", boom)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(RuntimeError, match="bug in send_due"):
            call_command("send_notifications", "--every", "0.01")
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])


@pytest.mark.django_db(transaction=True)
def test_command_sends_and_stops_cleanly_on_sigterm(room, receiver):
    require_postgresql()
    channel("hook", ChannelKind.WEBHOOK, receiver.url("/hook"))
    raise_in(room)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "REDIS_URL": ""}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "send_notifications", "--every", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert receiver.requests, proc.poll()
        while time.monotonic() < deadline and deliveries(state="sent").count() != 1:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "send_notifications: stopped" in out
    assert deliveries(state="sent").count() == 1


# --- Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "reason"),
    [
        (ChannelKind.WEBHOOK, "ftp://example.org/hook", "http://"),
        (ChannelKind.WECOM, "javascript:alert(1)", "http://"),
        (ChannelKind.DINGTALK, "https://user:pw@oapi.dingtalk.com/robot/send", "password"),
        (ChannelKind.EMAIL, "keeper@archive.example.org, not-an-email", "not-an-email"),
    ],
)
def test_bad_targets_are_refused_with_a_reason(kind, target, reason):
    with translation.override("en"):
        with pytest.raises(ValidationError) as info:
            channel("bad", kind, target)
        assert reason in " ".join(info.value.message_dict["target"])


def test_unknown_events_are_refused_with_a_reason():
    with translation.override("en"):
        with pytest.raises(ValidationError) as info:
            validate_event_list("raised, exploded")
        assert "exploded" in info.value.messages[0] and "reminded" in info.value.messages[0]
    with pytest.raises(ValidationError):
        validate_event_list(" , ")


def test_a_secret_is_kept_only_for_dingtalk():
    ch = channel("wecom", ChannelKind.WECOM, f"https://qyapi.weixin.qq.com/x?key={WECOM_KEY}")
    ch.secret = "SECxyz"
    ch.full_clean()
    assert ch.secret == ""


# --- Administrators' page -------------------------------------------------------------------

PAGE = "/staff/climate/notifications/"


def test_page_is_for_administrators_only(client_for, keeper, outsider, admin_user):
    ch = channel("hook")
    assert client_for(None).get(PAGE).status_code == 302
    for user in (keeper, outsider):
        client = client_for(user)
        assert client.get(PAGE).status_code == 404
        assert client.get(f"{PAGE}{ch.pk}/").status_code == 404
        assert client.post(PAGE, {"name": "x"}).status_code == 404
        assert client.post(f"{PAGE}{ch.pk}/disable/").status_code == 404
    assert client_for(admin_user).get(PAGE).status_code == 200
    assert NotificationChannel.objects.get().enabled
    assert NotificationChannel.objects.count() == 1


def test_page_escapes_names_and_hides_robot_keys(client_for, admin_user, room):
    ch = channel(
        "<img src=x onerror=alert(1)>",
        ChannelKind.WECOM,
        f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}",
    )
    alarm = raise_in(room)
    assert alarm.notifications.get().channel == ch
    body = client_for(admin_user).get(PAGE).content.decode()
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert WECOM_KEY not in body
    assert "https://qyapi.weixin.qq.com/cgi-bin/…?key=***" in body
    assert "<script>" not in body and "style=" not in body


def form_data(**overrides):
    data = {
        "name": "值班群",
        "kind": "wecom",
        "target": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}",
        "min_severity": "major",
        "events": ["raised", "escalated", "cleared"],
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_admin_adds_edits_and_turns_off_a_channel(client_for, admin_user, room, room2):
    client = client_for(admin_user)
    response = client.post(PAGE, form_data(rooms=[room2.pk]))
    assert response.status_code == 302
    ch = NotificationChannel.objects.get()
    assert ch.events == "raised,escalated,cleared" and list(ch.rooms.all()) == [room2]
    assert ch.min_severity == "major" and ch.enabled
    created = AuditLog.objects.get(action="storage_env.notification_channel.created")
    assert WECOM_KEY not in json.dumps(created.after, ensure_ascii=False)

    edit = client.get(f"{PAGE}{ch.pk}/").content.decode()
    assert 'value="reminded"' in edit and "值班群" in edit
    response = client.post(
        f"{PAGE}{ch.pk}/",
        form_data(
            kind="dingtalk",
            target=f"https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}",
            secret=DING_SECRET,
        ),
    )
    assert response.status_code == 302
    ch.refresh_from_db()
    assert ch.kind == "dingtalk" and ch.secret == DING_SECRET and not ch.rooms.exists()
    client.post(f"{PAGE}{ch.pk}/", form_data(kind="dingtalk", target=ch.target, name="改名"))
    ch.refresh_from_db()
    assert ch.name == "改名" and ch.secret == DING_SECRET  # blank secret: kept
    assert DING_SECRET not in client.get(f"{PAGE}{ch.pk}/").content.decode()
    client.post(
        f"{PAGE}{ch.pk}/",
        form_data(kind="dingtalk", target=ch.target, clear_secret="on"),
    )
    ch.refresh_from_db()
    assert ch.secret == ""

    assert client.post(f"{PAGE}{ch.pk}/disable/").status_code == 302
    ch.refresh_from_db()
    assert not ch.enabled
    assert AuditLog.objects.filter(action="storage_env.notification_channel.disabled").exists()
    assert client.post(f"{PAGE}{ch.pk}/explode/").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"target": "ftp://example.org/x"}, "target", "http"),
        ({"kind": "email", "target": "not-an-email"}, "target", "not-an-email"),
        ({"events": ["raised", "exploded"]}, "events", "exploded"),
        ({"events": []}, "events", ""),
        ({"kind": "sms"}, "kind", "sms"),
    ],
)
def test_bad_form_input_is_refused_with_reasons(client_for, admin_user, overrides, field, reason):
    response = client_for(admin_user).post(PAGE, form_data(**overrides))
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert errors and reason in " ".join(errors)
    assert not NotificationChannel.objects.exists()
    assert 'role="alert"' in response.content.decode()


def test_send_test_message_button(client_for, admin_user, receiver):
    ch = channel("<b>群</b>", ChannelKind.WECOM, receiver.url(f"/send?key={WECOM_KEY}"))
    client = client_for(admin_user)
    response = client.post(f"{PAGE}{ch.pk}/test/", follow=True)
    assert response.status_code == 200
    [request] = receiver.requests
    assert request["json"]["msgtype"] == "markdown"
    assert "<b>群</b>" in request["json"]["markdown"]["content"]
    body = response.content.decode()
    assert "message-success" in body and "&lt;b&gt;群&lt;/b&gt;" in body and "<b>群" not in body

    receiver.mode = "errcode"
    body = client.post(f"{PAGE}{ch.pk}/test/", follow=True).content.decode()
    assert "message-error" in body and "errcode 310000" in body
    assert AuditLog.objects.filter(action="storage_env.notification_channel.tested").count() == 2
    assert not NotificationDelivery.objects.exists()  # a test is not an alarm delivery


def test_navigation_names_the_page_for_administrators_only(client_for, admin_user, keeper):
    assert PAGE in client_for(admin_user).get("/staff/").content.decode()
    assert PAGE not in client_for(keeper).get("/staff/").content.decode()


def test_settings_read_smtp_from_the_environment():
    for name in (
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_TLS",
        "EMAIL_USE_SSL",
        "EMAIL_TIMEOUT",
        "DEFAULT_FROM_EMAIL",
        "SITE_URL",
        "NOTIFICATION_TIMEOUT",
    ):
        assert hasattr(django_settings, name)
        assert f"{name}=" in (ROOT / ".env.example").read_text(encoding="utf-8")


# --- Language -------------------------------------------------------------------------------


def test_a_channel_is_written_to_in_its_readers_language(room, sensor, receiver):
    """The archive runs in zh-hans; a channel read by English speakers gets English (title,
    labels and the alarm's own text), one without a language gets the archive's."""
    from core.messages import ref
    from storage_env import messages as alarm_messages

    english = channel("en", ChannelKind.WEBHOOK, receiver.url("/en"), language="en")
    chinese = channel("zh", ChannelKind.WEBHOOK, receiver.url("/zh"))
    with translation.override("zh-hans"):
        services.raise_alarm(
            AlarmRule.LOW_BATTERY,
            "sensor:TH-01",
            message=ref(alarm_messages.BATTERY, sensor="TH-01", level=9),
            room_id=room.pk,
            sensor_id=sensor.pk,
        )
        assert notify.send_due(now=later(1)) == {"sent": 2}
    got = {r["path"]: r["json"] for r in receiver.requests}
    assert english.pk and chinese.pk
    assert "TH-01: battery 9 %" in got["/en"]["text"]
    assert "Low battery" in got["/en"]["title"]
    assert got["/en"]["alarm"]["message"] == "TH-01: battery 9 %"
    assert got["/en"]["alarm"]["message_code"] == alarm_messages.BATTERY
    assert "TH-01：电量 9 %" in got["/zh"]["text"]
    assert zh(AlarmRule.LOW_BATTERY.label) in got["/zh"]["title"]


def test_the_channel_language_is_one_the_site_speaks(room):
    with pytest.raises(ValidationError):
        channel("x", language="klingon")
