"""MQTT connection settings and client construction (paho-mqtt 2.x)."""

from __future__ import annotations

import os
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SCHEMES = {"mqtt": (1883, False), "mqtts": (8883, True), "tcp": (1883, False), "ssl": (8883, True)}


@dataclass(frozen=True)
class BrokerConfig:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerConfig:
        """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ImproperlyConfigured(
                f"MQTT_URL scheme {parts.scheme!r} is not one of {sorted(SCHEMES)}"
            )
        default_port, tls = SCHEMES[parts.scheme]
        if not parts.hostname:
            raise ImproperlyConfigured("MQTT_URL has no host")
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def broker_config() -> BrokerConfig:
    """The configured broker: ``MQTT_URL``, else the embedded broker on loopback."""
    if settings.MQTT_URL:
        return BrokerConfig.from_url(settings.MQTT_URL)
    # A user name makes the embedded broker keep our persistent sessions (see mqtt_broker).
    return BrokerConfig(host="127.0.0.1", port=settings.MQTT_EMBEDDED_PORT, username="lantai")


def protocol_version() -> int:
    """MQTT 5 for an external broker (receive maximum, session expiry); 3.1.1 for the embedded
    amqtt broker, which speaks only 3.1.1. ``MQTT_PROTOCOL=3.1.1|5`` overrides."""
    chosen = os.environ.get("MQTT_PROTOCOL", "")
    if chosen in {"5", "v5", "5.0"}:
        return mqtt.MQTTv5
    if chosen in {"3.1.1", "311", "v311"}:
        return mqtt.MQTTv311
    return mqtt.MQTTv5 if settings.MQTT_URL else mqtt.MQTTv311


RawMessageCallback = Callable[[str, bytes, int, int], None]
_PUBACK = 0x40
_READ_CHUNK = 65536


class IngestClient(mqtt.Client):
    """paho's client with a leaner receive path for a subscriber that takes many small messages.

    Stock paho reads each packet with three ``recv`` calls and goes back to ``select`` after every
    packet; every PUBLISH becomes an ``MQTTMessage`` with parsed MQTT 5 properties and goes
    through the topic matcher and two mutexes; every PUBACK is its own write. Here:

    * ``loop_read`` does one socket read of up to 64 KiB per call and handles every complete
      packet in it (``_sock_recv`` serves paho's small reads from that buffer);
    * with ``on_raw_message`` set, PUBLISH packets with QoS 0 or 1 go straight to it as
      ``(topic, payload, mid, qos)`` (properties are skipped: topic aliases are never granted
      to the broker, and nothing else in them is used); QoS 2 takes paho's own path;
    * ``ack_many`` acknowledges many QoS 1 messages with one write.

    Everything else (connect, keepalive, reconnect, subscribe, TLS) is paho's. Only internals of
    paho 2.x are touched (``_sock_recv``, ``_packet_read``, ``_handle_publish``,
    ``_packet_queue``); ``supports_fast_path()`` checks they are there.
    """

    on_raw_message: RawMessageCallback | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock = None
        self._reads_left = 0

    @staticmethod
    def supports_fast_path() -> bool:
        return all(
            hasattr(mqtt.Client, name)
            for name in ("_sock_recv", "_packet_read", "_handle_publish", "_packet_queue")
        )

    # --- buffered reads -------------------------------------------------------------------
    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: nothing buffered belongs to it
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            if self._reads_left <= 0:
                raise BlockingIOError  # back to select() until the socket has more
            self._reads_left -= 1
            data = super()._sock_recv(_READ_CHUNK)
            if not data:
                return data  # connection closed
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """Handle every complete packet of one socket read (at most 64 KiB)."""
        if self._sock is None:
            return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
        self._reads_left = 1
        while True:
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN or self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    # --- PUBLISH without MQTTMessage --------------------------------------------------------
    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        callback = self.on_raw_message
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if callback is None or qos > 1:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:end].decode("utf-8")
            mid = 0
            if qos:
                mid = (packet[end] << 8) | packet[end + 1]
                end += 2
            if self._protocol == mqtt.MQTTv5:
                length, shift = 0, 0
                while True:
                    byte = packet[end]
                    end += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                end += length
        except (IndexError, UnicodeDecodeError):
            return super()._handle_publish()  # paho reports it the usual way
        if not topic:
            return super()._handle_publish()
        callback(topic, bytes(packet[end:]), mid, qos)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    # --- acknowledgements -----------------------------------------------------------------
    def ack_many(self, mids: Iterable[int]) -> None:
        """PUBACK for each QoS 1 message id, in one write (manual_ack mode)."""
        packet = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(_PUBACK, packet, 0, 0)


def stock_client_chosen() -> bool:
    """``MQTT_STOCK_CLIENT=1`` runs the ingest worker on stock paho (``mqtt.Client``)."""
    return os.environ.get("MQTT_STOCK_CLIENT", "").lower() in {"1", "true", "yes"}


def ingest_client_class(*, stock: bool | None = None) -> type[mqtt.Client]:
    """The client class of the ingest worker: ``IngestClient`` unless stock paho is chosen
    (``stock``, else ``MQTT_STOCK_CLIENT``) or this paho lacks the internals it overrides."""
    if stock is None:
        stock = stock_client_chosen()
    if stock or not IngestClient.supports_fast_path():
        return mqtt.Client
    return IngestClient


def make_client(
    client_id: str,
    *,
    clean_start: bool = True,
    config: BrokerConfig | None = None,
    protocol: int = mqtt.MQTTv311,
    manual_ack: bool = False,
    client_class: type[mqtt.Client] = mqtt.Client,
) -> mqtt.Client:
    """A paho 2.x client (callback API v2) set up for ``config``; not connected.

    ``clean_start=False`` with a fixed ``client_id`` gives a persistent session: the broker keeps
    QoS 1 messages for the client while it is away. With MQTT 5 the session flag goes to
    ``connect`` instead (see ``connect_options``).
    """
    config = config or broker_config()
    client = client_class(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if protocol == mqtt.MQTTv5 else clean_start,
        protocol=protocol,
        manual_ack=manual_ack,
    )
    if config.username:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect_options(
    client: mqtt.Client, *, clean_start: bool, session_expiry: int = 7 * 86400
) -> dict:
    """Keyword arguments for ``client.connect``: for MQTT 5, the clean-start flag, a session
    that outlives the connection, and a large receive maximum so that QoS 1 messages waiting
    for their (manual) acknowledgement do not throttle delivery."""
    if client.protocol != mqtt.MQTTv5:
        return {}

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0 if clean_start else session_expiry
    properties.ReceiveMaximum = 65535
    return {"clean_start": clean_start, "properties": properties}
