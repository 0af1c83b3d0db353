"""MQTT connection settings and client construction (paho-mqtt 2.x)."""

from __future__ import annotations

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


def make_client(
    client_id: str, *, clean_start: bool = True, config: BrokerConfig | None = None
) -> mqtt.Client:
    """A paho 2.x client (callback API v2, MQTT 3.1.1) set up for ``config``; not connected.

    ``clean_start=False`` with a fixed ``client_id`` gives a persistent session: the broker keeps
    QoS 1 messages for the client while it is away.
    """
    config = config or broker_config()
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_start,
        protocol=mqtt.MQTTv311,
    )
    if config.username:
        client.username_pw_set(config.username, config.password)
    if config.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
