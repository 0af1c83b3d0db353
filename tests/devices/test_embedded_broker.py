"""The embedded broker (amqtt, ``make run`` without MQTT_URL) keeps the ingest worker's
persistent session: readings published while the worker restarts reach it afterwards."""

from __future__ import annotations

import asyncio
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from devices.management.commands.mqtt_broker import broker_settings


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def embedded_broker():
    from amqtt.broker import Broker

    port = _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            holder["broker"] = Broker(broker_settings(port))
            await holder["broker"].start()
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(15)
    yield port
    asyncio.run_coroutine_threadsafe(holder["broker"].shutdown(), loop).result(15)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def subscriber(port: int, received: list, username: str | None) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="ingest-under-test",
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    if username:
        client.username_pw_set(username)
    client.on_connect = lambda c, *_a: c.subscribe("lantai/sensors/+/telemetry", qos=1)
    client.on_message = lambda _c, _u, message: received.append(message.payload)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("username, kept", [("lantai", True), (None, False)])
def test_a_named_ingest_session_survives_a_restart(embedded_broker, username, kept):
    received: list[bytes] = []
    first = subscriber(embedded_broker, received, username)
    assert wait_for(lambda: first.is_connected())
    time.sleep(0.3)  # subscribed
    first.loop_stop()
    first.socket().close()  # killed: no DISCONNECT packet
    time.sleep(0.5)
    publisher = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    publisher.username_pw_set("lantai")
    publisher.connect("127.0.0.1", embedded_broker)
    publisher.loop_start()
    for i in range(5):
        publisher.publish("lantai/sensors/S1/telemetry", f"{i}".encode(), qos=1).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()
    again: list[bytes] = []
    second = subscriber(embedded_broker, again, username)
    try:
        if kept:
            assert wait_for(lambda: len(again) >= 5), again
            assert sorted(again) == [b"0", b"1", b"2", b"3", b"4"]
        else:  # amqtt drops anonymous sessions: why the ingest worker gives a user name
            time.sleep(1.0)
            assert again == []
    finally:
        second.loop_stop()
        second.disconnect()
