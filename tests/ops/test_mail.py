"""Mail that arrives (issue 18): SMTP from ``EMAIL_URL``; every message Django sends is queued,
sent by the worker through a real SMTP server (aiosmtpd) that refuses and then accepts,
retried with backoff and recorded as sent only once the server took it."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
from aiosmtpd.controller import Controller
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, send_mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from config.env import parse_email_url
from core import mail
from core.models import OutgoingMail
from tests.ops.test_deploy import ROOT

pytestmark = pytest.mark.django_db


def test_the_smtp_server_comes_from_one_url():
    assert parse_email_url("smtp://lantai%40archive.org:p%40ss%3Aw@mail.example.org:2525?tls") == {
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "lantai@archive.org",
        "EMAIL_HOST_PASSWORD": "p@ss:w",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }
    implicit = parse_email_url("smtps://u:p@mail.example.org?timeout=3")
    assert (implicit["EMAIL_PORT"], implicit["EMAIL_USE_SSL"], implicit["EMAIL_USE_TLS"]) == (
        465, True, False,
    )  # fmt: skip
    assert implicit["EMAIL_TIMEOUT"] == 3
    plain = parse_email_url("smtp://relay.intranet")
    assert (plain["EMAIL_PORT"], plain["EMAIL_USE_TLS"], plain["EMAIL_HOST_USER"]) == (
        25,
        False,
        "",
    )
    assert parse_email_url("smtp://relay.intranet?starttls=true")["EMAIL_PORT"] == 587
    for bad in (
        "http://mail.example.org",
        "smtp://",
        "smtp://h?tsl",
        "smtp://h:port",
        "smtp://h?timeout=x",
    ):
        with pytest.raises(ImproperlyConfigured):
            parse_email_url(bad)


def test_settings_take_email_url_from_a_file(tmp_path):
    (tmp_path / "email_url").write_text("smtps://lantai:s%20cret@smtp.example.org:4650\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "k" * 50,
        "LANTAI_VAR_DIR": str(tmp_path),
        "EMAIL_URL_FILE": str(tmp_path / "email_url"),
    }
    env.pop("DEBUG", None)
    script = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_SSL, s.EMAIL_HOST_PASSWORD, s.EMAIL_BACKEND)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.split() == [
        "smtp.example.org", "4650", "True", "s", "cret", "core.mail.QueuedEmailBackend",
    ]  # fmt: skip


class Moody:
    """An SMTP server that answers 451 (try later) to the first ``refuse`` messages."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def queued(settings):
    settings.EMAIL_BACKEND = mail.QUEUE_BACKEND
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "lantai@archive.example.org"
    return settings


@pytest.fixture
def moody(queued):
    server = Moody(refuse=1)
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    queued.EMAIL_PORT = controller.port
    yield server
    controller.stop()


def test_a_refused_message_is_retried_with_backoff_and_sent_once_accepted(moody):
    message = EmailMultiAlternatives(
        "重置密码 / Password reset", "打开链接 https://archive.example.org/r/abc",
        to=["reader@example.org"], bcc=["audit@example.org"],
    )  # fmt: skip
    message.attach_alternative("<p>打开链接</p>", "text/html")
    assert message.send() == 1  # queued: the page that sent it never waits for the server
    row = OutgoingMail.objects.get()
    assert row.state == "pending" and row.attempts == 0 and not moody.envelopes

    now = timezone.now()
    assert mail.send_due_mail(now) == {"retry": 1}
    row.refresh_from_db()
    assert row.state == "pending" and row.sent_at is None  # refused: not recorded as sent
    assert row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at == now + dt.timedelta(seconds=30)
    assert mail.send_due_mail(now + dt.timedelta(seconds=29)) == {}  # not yet due

    assert mail.send_due_mail(now + dt.timedelta(seconds=31)) == {"sent": 1}
    row.refresh_from_db()
    assert row.state == "sent" and row.sent_at and row.last_error == "" and row.attempts == 2
    [envelope] = moody.envelopes
    assert envelope.mail_from == "lantai@archive.example.org"
    assert sorted(envelope.rcpt_tos) == ["audit@example.org", "reader@example.org"]
    content = envelope.content.decode()
    assert "Subject: =?utf-8?b?" in content and "text/html" in content
    assert "Bcc" not in content  # the blind copy stays blind
    assert mail.send_due_mail(now + dt.timedelta(hours=2)) == {}  # sent once only


def test_the_queue_is_in_the_metrics(queued, client):
    queued.EMAIL_PORT = free_port()
    send_mail("One", "1", None, ["a@example.org"])
    send_mail("Two", "2", None, ["b@example.org"])
    OutgoingMail.objects.filter(subject="Two").update(state="failed")
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'lantai_mail_queue{state="pending"} 1.0' in text
    assert 'lantai_mail_queue{state="failed"} 1.0' in text
    assert 'lantai_mail_queue{state="sent"} 0.0' in text


def test_an_unreachable_server_is_waited_out_then_given_up(queued):
    queued.EMAIL_PORT = free_port()  # nothing listens
    send_mail("Overdue", "Please return it", None, ["reader@example.org"])
    now = timezone.now()
    for attempt in range(1, mail.MAX_ATTEMPTS):
        assert mail.send_due_mail(now) == {"retry": 1}
        row = OutgoingMail.objects.get()
        assert row.attempts == attempt and "ConnectionRefusedError" in row.last_error
        assert row.next_attempt_at - now == mail.backoff(attempt)
        now = row.next_attempt_at
    assert [mail.backoff(n).total_seconds() for n in (1, 2, 3, 8, 9)] == [30, 60, 120, 3600, 3600]
    assert mail.send_due_mail(now) == {"failed": 1}
    row.refresh_from_db()
    assert row.state == "failed" and row.sent_at is None and row.next_attempt_at is None


def test_mail_of_a_rolled_back_change_is_never_sent(queued):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_mail("Approved", "Your request was approved", None, ["reader@example.org"])
        raise RuntimeError("the change failed")
    assert not OutgoingMail.objects.exists()


def test_the_notifications_worker_sends_queued_mail(moody):
    moody.refuse = 0
    send_mail("Reminder", "Due tomorrow", None, ["reader@example.org"])
    call_command("send_notifications", "--once", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert OutgoingMail.objects.get().state == "sent"
    assert [e.rcpt_tos for e in moody.envelopes] == [["reader@example.org"]]
