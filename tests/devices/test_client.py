"""IngestClient: paho with buffered reads, raw PUBLISH hand-over and acknowledgements in bulk."""

from __future__ import annotations

import struct

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench._mqtt_publisher import remaining_length as varint  # MQTT's variable-length int
from devices.mqtt.client import IngestClient


def publish(
    topic: str,
    payload: bytes,
    *,
    mid: int = 0,
    qos: int = 1,
    v5: bool = True,
    properties: bytes = b"",
) -> bytes:
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += varint(len(properties)) + properties
    body += payload
    return bytes([0x30 | (qos << 1)]) + varint(len(body)) + body


class FakeSocket:
    """Hands out the stream in chunks of ``chunk`` bytes, then would block."""

    def __init__(self, data: bytes, chunk: int = 1 << 20) -> None:
        self.data, self.pos, self.chunk, self.recvs = data, 0, chunk, 0

    def recv(self, n: int) -> bytes:
        if self.pos >= len(self.data):
            raise BlockingIOError
        self.recvs += 1
        piece = self.data[self.pos : self.pos + min(n, self.chunk)]
        self.pos += len(piece)
        return piece

    def pending(self) -> int:
        return 0

    def close(self) -> None:
        pass


def client(protocol=mqtt.MQTTv5, manual_ack=True) -> tuple[IngestClient, list]:
    got: list = []
    c = IngestClient(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=protocol,
        manual_ack=manual_ack,
    )
    c.on_raw_message = lambda topic, payload, mid, qos: got.append((topic, payload, mid, qos))
    return c, got


def drain(c: IngestClient, sock: FakeSocket, limit: int = 10000) -> int:
    calls = 0
    c._sock = sock
    while sock.pos < len(sock.data) and calls < limit:
        assert c.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        calls += 1
    return calls


def test_supports_fast_path_on_installed_paho():
    assert IngestClient.supports_fast_path()


def test_many_packets_in_one_socket_read_reach_the_callback_in_order():
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 60
    props.UserProperty = ("k", "v")
    packed = props.pack()  # length prefix included
    stream = b"".join(
        publish(
            f"p/sensors/S-{i}/telemetry",
            b'{"n": %d}' % i,
            mid=i + 1,
            properties=packed[1:] if i % 2 else b"",
        )
        for i in range(500)
    )
    stream += publish("p/sensors/S-0/status", b"online", qos=0)
    c, got = client()
    sock = FakeSocket(stream)
    calls = drain(c, sock)
    assert len(got) == 501
    assert got[7] == ("p/sensors/S-7/telemetry", b'{"n": 7}', 8, 1)
    assert got[-1] == ("p/sensors/S-0/status", b"online", 0, 0)
    # stock paho: three recv calls and one loop per packet; here one 64 KiB read per loop
    assert calls <= len(stream) // 65536 + 2 and sock.recvs <= calls


def test_packets_split_across_reads_are_put_together():
    stream = b"".join(
        publish(f"p/sensors/S-{i}/telemetry", b"x" * (i * 37 % 300), mid=i + 1) for i in range(200)
    )
    c, got = client()
    drain(c, FakeSocket(stream, chunk=7))
    assert [g[2] for g in got] == list(range(1, 201))
    assert [len(g[1]) for g in got] == [i * 37 % 300 for i in range(200)]


def test_mqtt_311_publish_has_no_properties():
    c, got = client(protocol=mqtt.MQTTv311)
    drain(c, FakeSocket(publish("p/sensors/A/alarm", b"{}", mid=9, v5=False)))
    assert got == [("p/sensors/A/alarm", b"{}", 9, 1)]


def test_without_raw_callback_paho_message_path_is_used():
    c, got = client()
    c.on_raw_message = None
    messages = []
    c.on_message = lambda client, userdata, message: messages.append(message)
    drain(c, FakeSocket(publish("p/sensors/A/telemetry", b"1", mid=3)))
    assert got == [] and messages[0].topic == "p/sensors/A/telemetry" and messages[0].mid == 3


def test_new_connection_drops_bytes_buffered_for_the_old_one():
    c, got = client()
    first = publish("p/sensors/A/telemetry", b"1", mid=1)
    c._sock = FakeSocket(first + first[:5])  # a partial packet when the connection drops
    c.loop_read()
    assert len(got) == 1
    c._sock = FakeSocket(b"")
    c._in_packet = {  # what paho resets on reconnect
        "command": 0,
        "have_remaining": 0,
        "remaining_count": [],
        "remaining_mult": 1,
        "remaining_length": 0,
        "packet": bytearray(b""),
        "to_process": 0,
        "pos": 0,
    }
    c._rbuf, c._rpos = b"stale", 0  # as if bytes of the old socket were still buffered
    drain(c, FakeSocket(publish("p/sensors/B/telemetry", b"2", mid=2)))
    assert got[-1] == ("p/sensors/B/telemetry", b"2", 2, 1)


@pytest.mark.parametrize("mids", [[1], [1, 2, 65535], list(range(1, 1001))])
def test_ack_many_is_one_write_of_pubacks(mids):
    c, _ = client()
    c.ack_many(mids)
    assert len(c._out_packet) == 1
    packet = c._out_packet[0]["packet"]
    assert packet == b"".join(bytes([0x40, 2]) + struct.pack("!H", m) for m in mids)


def test_ack_many_of_nothing_writes_nothing():
    c, _ = client()
    c.ack_many([])
    assert len(c._out_packet) == 0


def test_automatic_ack_still_acknowledges_each_message():
    c, got = client(manual_ack=False)
    drain(c, FakeSocket(publish("p/sensors/A/telemetry", b"1", mid=77)))
    assert got and c._out_packet[0]["packet"] == bytes([0x40, 2, 0, 77])
