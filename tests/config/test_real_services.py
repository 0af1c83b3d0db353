"""Round trips through the real services (skipped locally when absent; required in CI)."""

import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from devices.mqtt.client import BrokerConfig, make_client
from search.backends import get_backend
from tests.gates import (
    IN_CI,
    require_elasticsearch,
    require_mqtt,
    require_postgresql,
    require_redis,
)


def test_ci_runs_on_postgresql(db):
    if IN_CI:
        assert connection.vendor == "postgresql", "CI must run the suite on PostgreSQL"
    require_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 13


def test_redis_channel_layer_round_trip():
    require_redis()
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"

    async def round_trip():
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello", "text": "兰台"})
        return await layer.receive(channel)

    assert async_to_sync(round_trip)()["text"] == "兰台"


def test_mqtt_publish_subscribe_round_trip():
    url = require_mqtt()
    topic = f"lantai-test/{uuid.uuid4().hex}/telemetry"
    received: list[bytes] = []
    subscribed = threading.Event()
    arrived = threading.Event()
    client = make_client(f"lantai-test-{uuid.uuid4().hex[:8]}", config=BrokerConfig.from_url(url))

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe(topic, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        subscribed.set()

    def on_message(client, userdata, message):
        received.append(message.payload)
        arrived.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    config = BrokerConfig.from_url(url)
    client.connect(config.host, config.port, keepalive=10)
    client.loop_start()
    try:
        assert subscribed.wait(5), "no SUBACK from the broker"
        client.publish(topic, b'{"temperature": 20.5}', qos=1).wait_for_publish(5)
        assert arrived.wait(5), "message did not come back"
    finally:
        client.loop_stop()
        client.disconnect()
    assert received == [b'{"temperature": 20.5}']


def test_elasticsearch_backend_answers():
    require_elasticsearch()
    result = get_backend().ping()
    assert result["ok"] is True
    assert result["backend"] == "elasticsearch"
    info = get_backend().client.info()
    assert info["version"]["number"].startswith("8.")


@pytest.mark.parametrize("scheme", ["mqtt://u:p%40ss@broker:1884", "mqtts://broker"])
def test_broker_url_parsing(scheme):
    config = BrokerConfig.from_url(scheme)
    assert config.host == "broker"
    if scheme.startswith("mqtts"):
        assert config.tls and config.port == 8883
    else:
        assert config.password == "p@ss" and config.port == 1884


@pytest.mark.parametrize("url", ["http://broker", "mqtt://"])
def test_bad_broker_url_is_a_clear_error(url):
    with pytest.raises(ImproperlyConfigured, match="MQTT_URL"):
        BrokerConfig.from_url(url)
