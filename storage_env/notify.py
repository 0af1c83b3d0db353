"""Store-room alarms told beyond the page notice: e-mail, JSON webhooks, WeCom and DingTalk robots.

``enqueue_alarm_notifications`` writes one ``NotificationDelivery`` per matching channel in the
same transaction as the alarm change (called from ``services.push_alarm``), so a rolled-back
alarm never tells anyone and a committed one is never forgotten. The ``send_notifications``
worker calls ``send_due``: it claims due deliveries (``SKIP LOCKED`` on PostgreSQL, so two
workers never send the same one), sends them, and records ``sent`` only on success — HTTP 2xx
and, for the robots, ``errcode == 0`` in the answer. A failure is retried with exponential
backoff (30 s, 1 min, 2 min … at most 1 h) and given up after ``MAX_ATTEMPTS``.

Message formats of the robots (checked against their documentation):

- WeCom (企业微信) group robot, 群机器人配置说明
  https://developer.work.weixin.qq.com/document/path/91770 (quoted in
  https://cnblogs.com/tiandi/p/17768525.html and
  https://blog.csdn.net/weixin_49128211/article/details/139092482): POST JSON to the robot's
  webhook URL ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` (the key is the
  credential), ``{"msgtype": "markdown", "markdown": {"content": "…"}}``, content at most
  4096 bytes of UTF-8; the answer is ``{"errcode": 0, "errmsg": "ok"}`` on success.
- DingTalk (钉钉) custom robot, 自定义机器人接入
  https://open.dingtalk.com/document/orgapp/custom-robot-access (quoted in
  https://apifox.com/apidoc/docs-site/467052/doc-3550006 and
  https://cnblogs.com/howardzhangdqs/p/dingtalk_robot_instruction_2.html): POST JSON to
  ``https://oapi.dingtalk.com/robot/send?access_token=…``,
  ``{"msgtype": "markdown", "markdown": {"title": "…", "text": "…"}}``; answer ``errcode`` 0.
  Signed mode (加签): ``timestamp`` in milliseconds (within an hour of DingTalk's clock) and
  ``sign = urlEncode(base64(HmacSHA256(key=secret, msg=timestamp + "\\n" + secret)))``, both
  appended to the URL as ``&timestamp=…&sign=…``.

Secrets: a robot URL carries its key or token, so logs, errors and audit rows only ever show
``redacted_target`` (host and first path segment, query values starred); the DingTalk secret
is never shown.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.models import User
from core.mail import delivery_connection
from storage_env.choices import ChannelKind, DeliveryState, NotificationEvent, Severity
from storage_env.models import Alarm, AlarmEvent, NotificationChannel, NotificationDelivery

logger = logging.getLogger(__name__)

SEVERITY_RANK = {Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}
MAX_ATTEMPTS = 10
BACKOFF_FIRST = 30  # seconds before the first retry; doubled each time
BACKOFF_CAP = 3600
DEFAULT_LIMIT = 20
# A claimed delivery is not due again for this long: a worker that dies while sending leaves it
# to be retried then (the claim already counted the attempt). Longer than a batch can take.
CLAIM_LEASE = dt.timedelta(minutes=15)
MAX_ANSWER_BYTES = 65536
WECOM_MAX_BYTES = 4096


class SendError(Exception):
    """The channel did not take the message (the reason is safe to store and log)."""


# --- Channels -------------------------------------------------------------------------------


def redacted_target(channel: NotificationChannel) -> str:
    """The target without credentials: e-mail addresses as they are; for a URL the scheme, host,
    port and first path segment, query values replaced by ``***``."""
    if channel.kind == ChannelKind.EMAIL:
        return channel.target
    return redact_url(channel.target)


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    segments = [s for s in parts.path.split("/") if s]
    path = f"/{segments[0]}" if segments else ""
    if len(segments) > 1:
        path += "/…"
    query = "&".join(f"{key}=***" for key, _value in parse_qsl(parts.query, True))
    return f"{parts.scheme}://{host}{port}{path}" + (f"?{query}" if query else "")


def redact(text: str, channel: NotificationChannel) -> str:
    """``text`` with the channel's URL, its query values and its secret taken out."""
    if channel.kind != ChannelKind.EMAIL and channel.target:
        text = text.replace(channel.target, redact_url(channel.target))
        try:
            parts = urlsplit(channel.target)
            values = [v for _key, v in parse_qsl(parts.query, True) if len(v) >= 4]
            values += [s for s in parts.path.split("/") if len(s) >= 16]
        except ValueError:
            values = []
        for value in values:
            text = text.replace(value, "***")
    if channel.secret:
        text = text.replace(channel.secret, "***")
    return text


def _snapshot(channel: NotificationChannel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "kind": channel.kind,
        "target": redacted_target(channel),
        "signed": bool(channel.secret),
        "rooms": sorted(channel.rooms.values_list("code", flat=True)) if channel.pk else [],
        "min_severity": channel.min_severity,
        "events": channel.events,
        "language": channel.language,
        "enabled": channel.enabled,
    }


CHANNEL_FIELDS = (
    "name",
    "kind",
    "target",
    "secret",
    "min_severity",
    "events",
    "language",
    "enabled",
)


@transaction.atomic
def create_channel(*, acting_user: User, rooms=(), **values: Any) -> NotificationChannel:
    """A new channel (validated: the target must suit the kind); audited without secrets."""
    channel = NotificationChannel(**{k: v for k, v in values.items() if k in CHANNEL_FIELDS})
    channel.full_clean()
    channel.save()
    channel.rooms.set(rooms)
    record_event(
        "storage_env.notification_channel.created",
        acting_user=acting_user,
        obj=channel,
        after=_snapshot(channel),
    )
    return channel


@transaction.atomic
def update_channel(
    channel: NotificationChannel, *, acting_user: User, rooms=None, **changes: Any
) -> NotificationChannel:
    """Change a channel; a blank ``secret`` keeps the stored one unless ``clear_secret``."""
    channel = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
    before = _snapshot(channel)
    clear_secret = changes.pop("clear_secret", False)
    if not changes.get("secret"):
        changes.pop("secret", None)
    for key, value in changes.items():
        if key in CHANNEL_FIELDS:
            setattr(channel, key, value)
    if clear_secret:
        channel.secret = ""
    channel.full_clean()
    channel.save()
    if rooms is not None:
        channel.rooms.set(rooms)
    record_event(
        "storage_env.notification_channel.changed",
        acting_user=acting_user,
        obj=channel,
        before=before,
        after=_snapshot(channel),
    )
    return channel


@transaction.atomic
def set_channel_enabled(
    channel: NotificationChannel, enabled: bool, *, acting_user: User
) -> NotificationChannel:
    """Turn a channel on or off; pending deliveries of a disabled channel are not sent."""
    NotificationChannel.objects.filter(pk=channel.pk).update(
        enabled=enabled, updated_at=timezone.now()
    )
    channel.enabled = enabled
    action = "enabled" if enabled else "disabled"
    record_event(f"storage_env.notification_channel.{action}", acting_user=acting_user, obj=channel)
    return channel


# --- Enqueueing -----------------------------------------------------------------------------


def event_name(event_type: str) -> str | None:
    """``alarm.raised`` (or ``raised``) → ``raised``; None for events nobody is told about."""
    name = event_type.removeprefix("alarm.")
    return name if name in NotificationEvent.values else None


def channels_for(alarm: Alarm, event: str) -> list[NotificationChannel]:
    """Enabled channels that want this event of this alarm: its room (or every room) and a
    minimum severity at or below the alarm's."""
    channels = NotificationChannel.objects.filter(enabled=True)
    if alarm.room_id is None:
        channels = channels.filter(rooms=None)
    else:
        channels = channels.filter(Q(rooms=None) | Q(rooms=alarm.room_id)).distinct()
    rank = SEVERITY_RANK.get(alarm.severity, 0)
    return [
        channel
        for channel in channels
        if event in channel.event_list and rank >= SEVERITY_RANK.get(channel.min_severity, 1)
    ]


def enqueue_alarm_notifications(alarm: Alarm, event_type: str) -> int:
    """Queue one delivery per matching channel, inside the caller's transaction. Repeated
    events (the 3rd reminder, the 2nd escalation) are numbered by the alarm's events of that
    kind, so each is a new delivery while the same event is never queued twice."""
    event = event_name(event_type)
    if event is None:
        return 0
    channels = channels_for(alarm, event)
    if not channels:
        return 0
    sequence = max(1, AlarmEvent.objects.filter(alarm=alarm, kind=event).count())
    now = timezone.now()
    NotificationDelivery.objects.bulk_create(
        [
            NotificationDelivery(
                alarm=alarm, event=event, sequence=sequence, channel=channel, next_attempt_at=now
            )
            for channel in channels
        ],
        ignore_conflicts=True,
    )
    return len(channels)


# --- Messages -------------------------------------------------------------------------------


@dataclass
class Message:
    title: str
    lines: list[tuple[str, str]]
    url: str
    data: dict[str, Any] = field(default_factory=dict)  # the JSON webhook's structured part

    def plain_lines(self) -> list[str]:
        return [_("%(label)s: %(value)s") % {"label": k, "value": v} for k, v in self.lines]


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}" if settings.SITE_URL else path


def _titles() -> dict[str, str]:
    return {
        NotificationEvent.RAISED: _("%(severity)s alarm: %(rule)s in %(room)s"),
        NotificationEvent.ESCALATED: _(
            "Alarm not acknowledged (escalation %(level)s): %(rule)s in %(room)s"
        ),
        NotificationEvent.REMINDED: _("Alarm reminder: %(rule)s in %(room)s is still open"),
        NotificationEvent.CLEARED: _("Alarm cleared: %(rule)s in %(room)s"),
    }


def alarm_message(
    alarm: Alarm, event: str, sequence: int = 1, *, language: str | None = None
) -> Message:
    """The message of one alarm event, in ``language`` (the channel's reader's; by default
    the archive's, ``LANGUAGE_CODE``)."""
    with translation.override(language or settings.LANGUAGE_CODE):
        room = alarm.room
        room_label = f"{room.code} {room.name}" if room is not None else _("no store room")
        rule = str(alarm.get_rule_display())
        severity = str(alarm.get_severity_display())
        title = _titles()[event] % {
            "severity": severity,
            "rule": rule,
            "room": room_label,
            "level": alarm.escalation_level,
        }
        path = (
            reverse("storage_env:room", args=[room.pk])
            if room is not None
            else reverse("storage_env:dashboard")
        )
        lines = [
            (_("Store room"), room_label),
            (_("Rule"), rule),
            (_("Severity"), severity),
        ]
        if alarm.value is not None:
            lines.append((_("Value"), f"{alarm.value:g}"))
        lines += [
            (_("Details"), alarm.text_in(translation.get_language())),
            (_("Raised at"), timezone.localtime(alarm.raised_at).strftime("%Y-%m-%d %H:%M")),
            (_("State"), str(alarm.get_state_display())),
        ]
        url = absolute(path)
        data = {
            "event": f"alarm.{event}",
            "sequence": sequence,
            "alarm": {
                "id": alarm.pk,
                "rule": alarm.rule,
                "subject": alarm.subject,
                "severity": alarm.severity,
                "state": alarm.state,
                "room": room.code if room is not None else None,
                "value": alarm.value,
                "message": alarm.text_in(translation.get_language()),
                "message_code": alarm.message_code,
                "message_params": alarm.message_params,
                "raised_at": alarm.raised_at.isoformat(),
                "escalation_level": alarm.escalation_level,
            },
        }
        return Message(title=title, lines=lines, url=url, data=data)


def probe_message(channel: NotificationChannel, user: User) -> Message:
    with translation.override(channel.reader_language):
        site = getattr(settings, "SITE_NAME", "兰台")
        return Message(
            title=_("Test message from %(site)s: alarm notifications reach this channel")
            % {"site": site},
            lines=[(_("Channel"), channel.name), (_("Sent by"), user.get_username())],
            url=absolute(reverse("storage_env:dashboard")),
            data={"event": "test", "alarm": None},
        )


def _link(message: Message) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        label = _("Open the store-room page")
    if message.url.startswith(("http://", "https://")):
        return f"[{label}]({message.url})"
    return f"{label}: {message.url}"


def _truncate_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode(errors="ignore") + "…"


def wecom_payload(message: Message) -> dict[str, Any]:
    content = "\n".join(
        [f"**{message.title}**"]
        + [f"> {line}" for line in message.plain_lines()]
        + [_link(message)]
    )
    return {
        "msgtype": "markdown",
        "markdown": {"content": _truncate_bytes(content, WECOM_MAX_BYTES)},
    }


def dingtalk_payload(message: Message) -> dict[str, Any]:
    text = "\n".join(
        [f"#### {message.title}", ""]
        + [f"- {line}" for line in message.plain_lines()]
        + ["", _link(message)]
    )
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}


def webhook_payload(message: Message) -> dict[str, Any]:
    return {
        **message.data,
        "title": message.title,
        "text": "\n".join(message.plain_lines()),
        "url": message.url,
    }


def email_text(message: Message) -> tuple[str, str]:
    site = getattr(settings, "SITE_NAME", "兰台")
    body = "\n".join([message.title, "", *message.plain_lines(), "", message.url, ""])
    return f"[{site}] {message.title}", body


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64 of HmacSHA256(secret, "timestamp\\nsecret"), URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def dingtalk_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    if not secret:
        return url
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


# --- Sending --------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: report it instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, payload: dict[str, Any], *, robot: bool) -> None:
    """POST ``payload``; raise SendError unless 2xx (and, for a robot, ``errcode`` 0)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise SendError("not an http(s) address")
    body = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 — the scheme is checked to be http(s)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Lantai"},
    )
    try:
        with _opener.open(request, timeout=settings.NOTIFICATION_TIMEOUT) as response:
            status = response.status
            answer = response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise SendError(f"cannot connect: {exc.reason}") from None
    except TimeoutError:
        raise SendError(f"no answer within {settings.NOTIFICATION_TIMEOUT} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise SendError(f"HTTP {status}")
    if robot:
        try:
            data = json.loads(answer or b"null")
        except ValueError:
            raise SendError(f"HTTP {status} but the answer is not JSON") from None
        errcode = data.get("errcode") if isinstance(data, dict) else None
        if type(errcode) is not int or errcode != 0:
            errmsg = str(data.get("errmsg", "")) if isinstance(data, dict) else ""
            raise SendError(f"errcode {errcode}: {errmsg[:200]}")


def send_message(channel: NotificationChannel, message: Message) -> None:
    """Send one message through one channel; SendError says why it was not taken."""
    with translation.override(channel.reader_language):
        if channel.kind == ChannelKind.EMAIL:
            subject, body = email_text(message)
            try:
                accepted = send_mail(
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    channel.recipients,
                    fail_silently=False,
                    # straight to the server: this queue already retries and records success
                    connection=delivery_connection(),
                )
            except (smtplib.SMTPException, OSError) as exc:
                raise SendError(f"SMTP: {type(exc).__name__}: {exc}") from None
            if accepted != 1:
                raise SendError("the mail server did not take the message")
        elif channel.kind == ChannelKind.WECOM:
            post_json(channel.target, wecom_payload(message), robot=True)
        elif channel.kind == ChannelKind.DINGTALK:
            url = dingtalk_url(channel.target, channel.secret)
            post_json(url, dingtalk_payload(message), robot=True)
        elif channel.kind == ChannelKind.WEBHOOK:
            post_json(channel.target, webhook_payload(message), robot=False)
        else:
            raise SendError(f"unknown channel kind {channel.kind!r}")


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min … ≤ 1 h."""
    return dt.timedelta(seconds=min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def _claim(now: dt.datetime, limit: int) -> list[int]:
    """Due pending deliveries, taken for this worker: each claim counts as an attempt and
    pushes the delivery out by CLAIM_LEASE, so no other worker takes it meanwhile."""
    with transaction.atomic():
        due = NotificationDelivery.objects.filter(
            state=DeliveryState.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            NotificationDelivery.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=now + CLAIM_LEASE
            )
    return ids


def _failed(delivery: NotificationDelivery, error: str, now: dt.datetime) -> str:
    error = redact(error, delivery.channel)[:500]
    if delivery.attempts >= MAX_ATTEMPTS:
        state, next_at = DeliveryState.FAILED, None
    else:
        state, next_at = DeliveryState.PENDING, now + backoff(delivery.attempts)
    NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(
        state=state, next_attempt_at=next_at, last_error=error
    )
    logger.warning(
        "notification %s (alarm %s %s, channel %s %s) attempt %s failed: %s",
        delivery.pk,
        delivery.alarm_id,
        delivery.event,
        delivery.channel_id,
        redacted_target(delivery.channel),
        delivery.attempts,
        error,
    )
    return "failed" if state == DeliveryState.FAILED else "retry"


def _deliver(delivery: NotificationDelivery, now: dt.datetime) -> str:
    channel = delivery.channel
    if not channel.enabled:
        NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(
            state=DeliveryState.FAILED, next_attempt_at=None, last_error="channel disabled"
        )
        return "failed"
    try:
        message = alarm_message(
            delivery.alarm, delivery.event, delivery.sequence, language=channel.reader_language
        )
        send_message(channel, message)
    except SendError as exc:
        return _failed(delivery, str(exc), now)
    except Exception as exc:  # one bad delivery must not stop the others
        return _failed(delivery, f"{type(exc).__name__}: {exc}", now)
    NotificationDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(
        state=DeliveryState.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    return "sent"


def send_due(now: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> Counter:
    """Send up to ``limit`` due deliveries; counts of ``sent``, ``retry`` and ``failed``."""
    now = now or timezone.now()
    ids = _claim(now, limit)
    counts: Counter = Counter()
    deliveries = (
        NotificationDelivery.objects.filter(pk__in=ids)
        .select_related("channel", "alarm__room")
        .order_by("id")
    )
    for delivery in deliveries:
        counts[_deliver(delivery, now)] += 1
    return counts


def send_test_message(channel: NotificationChannel, *, acting_user: User) -> str | None:
    """Send a test message now; None when the channel took it, else the (redacted) reason."""
    try:
        send_message(channel, probe_message(channel, acting_user))
        error = None
    except SendError as exc:
        error = redact(str(exc), channel)[:500]
    record_event(
        "storage_env.notification_channel.tested",
        acting_user=acting_user,
        obj=channel,
        note=error or "ok",
    )
    return error
