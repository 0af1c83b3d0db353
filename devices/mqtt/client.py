"""MQTT connection settings and client construction (paho-mqtt 2.x)."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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
    return BrokerConfig(host="127.0.0.1", port=settings.MQTT_EMBEDDED_PORT)


def protocol_version() -> int:
    """MQTT 5 for an external broker (receive maximum, session expiry); 3.1.1 for the embedded
    amqtt broker, which speaks only 3.1.1. ``MQTT_PROTOCOL=3.1.1|5`` overrides."""
    chosen = os.environ.get("MQTT_PROTOCOL", "")
    if chosen in {"5", "v5", "5.0"}:
        return mqtt.MQTTv5
    if chosen in {"3.1.1", "311", "v311"}:
        return mqtt.MQTTv311
    return mqtt.MQTTv5 if settings.MQTT_URL else mqtt.MQTTv311


def make_client(
    client_id: str,
    *,
    clean_start: bool = True,
    config: BrokerConfig | None = None,
    protocol: int = mqtt.MQTTv311,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A paho 2.x client (callback API v2) set up for ``config``; not connected.

    ``clean_start=False`` with a fixed ``client_id`` gives a persistent session: the broker keeps
    QoS 1 messages for the client while it is away. With MQTT 5 the session flag goes to
    ``connect`` instead (see ``connect_options``).
    """
    config = config or broker_config()
    client = mqtt.Client(
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
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0 if clean_start else session_expiry
    properties.ReceiveMaximum = 65535
    return {"clean_start": clean_start, "properties": properties}
