"""A lean QoS 1 publisher for the ingest benchmark (separate process, MQTT 3.1.1, raw socket).

One reading per PUBLISH, QoS 1, every PUBACK awaited. The publisher is paced so that the broker
never has to drop anything:

* at most ``max_inflight`` PUBLISHes without their PUBACK (the broker's side of QoS 1);
* at most ``window`` readings published but not yet *done* by the consumer (``done`` is a shared
  counter the parent keeps: committed rows for the ingest worker, saved rows for the ORM
  baseline, counted messages for the ceiling). Mosquitto queues at most ``max_queued_messages``
  (default 1000) beyond a subscriber's in-flight window and drops QoS 1 messages past that, so
  an open-loop publisher that outruns the consumer measures the broker's drop policy, not the
  consumer; with the window it measures the consumer;
* optionally at a fixed offered ``rate`` (messages/s; 0 = as fast as the window allows).

It speaks MQTT on a plain socket instead of paho: on a 2-core machine the publisher shares the
CPU with the broker, PostgreSQL and the consumer under test, and paho costs several times more
CPU per message (in production the publishers are separate devices). The same publisher feeds
the ceiling, the worker and the baseline, so the comparison between them is unchanged.
"""

from __future__ import annotations

import json
import resource
import socket
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, PINGREQ = 0x10, 0x20, 0x30, 0x40, 0xC0


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    body = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + _utf8(client_id)
    return bytes([CONNECT]) + remaining_length(len(body)) + body


def publish_packet(topic: bytes, mid: int, payload: bytes) -> bytes:
    """QoS 1 PUBLISH (flags 0b0010)."""
    body_len = 2 + len(topic) + 2 + len(payload)
    return b"".join(
        (
            bytes([PUBLISH | 0x02]),
            remaining_length(body_len),
            struct.pack("!H", len(topic)),
            topic,
            struct.pack("!H", mid),
            payload,
        )
    )


class Publisher:
    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id))
        connack = self._read_exact(4)
        if connack[0] != CONNACK or connack[3] != 0:
            raise RuntimeError(f"CONNACK refused: {connack!r}")
        self.sock.setblocking(False)
        self.buffer = bytearray()
        self.inflight = 0
        self.acked = 0
        self.mid = 0
        self.last_send = time.monotonic()

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def next_mid(self) -> int:
        self.mid = self.mid % 65535 + 1
        return self.mid

    def send(self, packets: list[bytes]) -> None:
        data = memoryview(b"".join(packets))
        while data:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                self.poll(0.01)
                continue
            data = data[sent:]
        self.inflight += len(packets)
        self.last_send = time.monotonic()

    def poll(self, timeout: float = 0.0) -> None:
        """Read whatever the broker sent (PUBACKs, PINGRESP) and count the PUBACKs."""
        import select

        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buffer += chunk
        pos, buffer = 0, self.buffer
        while len(buffer) - pos >= 2:
            length, shift, i = 0, 0, pos + 1
            while i < len(buffer):
                byte = buffer[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            else:
                break
            if len(buffer) - i < length:
                break
            if buffer[pos] & 0xF0 == PUBACK:
                self.inflight -= 1
                self.acked += 1
            pos = i + length
        del self.buffer[:pos]

    def keepalive(self) -> None:
        if time.monotonic() - self.last_send > 20:
            self.sock.sendall(bytes([PINGREQ, 0]))
            self.last_send = time.monotonic()

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(bytes([0xE0, 0]))  # DISCONNECT
        finally:
            self.sock.close()


def publish_readings(
    *,
    host: str,
    port: int,
    prefix: str,
    ids: list[str],
    seconds: float,
    start_at: float,
    done,
    out,
    window: int,
    rate: float = 0.0,
    first: int = 0,
    max_inflight: int = 1000,
    array_size: int = 1,
    limit: int = 0,
    generic: bool = False,
) -> None:
    """Process entry point: publish for ``seconds`` from ``start_at`` (wall clock), then wait for
    every PUBACK; puts (messages sent, readings sent, offered seconds, CPU seconds) on ``out``.

    ``array_size`` > 1 sends that many readings per message as a JSON array (labelled
    separately by the caller; the headline figure is one reading per message). ``limit`` > 0
    stops after that many readings even before ``seconds`` are up."""
    client = Publisher(host, port, f"bench-pub-{prefix}-{first}")
    topics = [f"{prefix}/sensors/{sensor}/telemetry".encode() for sensor in ids]
    if generic:  # a DTU gateway's JSON on a sensor source (bench/ingest_throughput.py)
        topics = [f"g{prefix}/{sensor}/data".encode() for sensor in ids]
    base = time.time() - 3600 - first / 1000.0
    sent = readings = 0
    while time.time() < start_at:
        time.sleep(0.001)
    started = time.monotonic()
    deadline = started + seconds
    dumps = json.dumps
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        room = min(
            max_inflight - client.inflight,
            window - (readings - done.value),
            200,
        )
        if rate:
            room = min(room, int(rate * (now - started)) - sent)
        if limit:
            if readings >= limit:
                break
            room = min(room, limit - readings)
        if room < array_size:
            client.poll(0.002)
            client.keepalive()
            continue
        packets = []
        for _ in range(room // array_size):
            sensor = sent % len(ids)
            if generic:
                n = first + readings
                body = dumps({"T": 195, "H": 510, "t": round(base + n / 1000.0, 3)})
            elif array_size == 1:
                n = first + readings
                body = dumps(
                    {
                        "ts": round(base + n / 1000.0, 3),
                        "temperature": 19.5,
                        "humidity": 51.0,
                        "seq": n,
                    }
                )
            else:
                items = []
                for k in range(array_size):
                    n = first + readings + k
                    items.append(
                        {
                            "ts": round(base + n / 1000.0, 3),
                            "temperature": 19.5,
                            "humidity": 51.0,
                            "seq": n,
                        }
                    )
                body = dumps(items)
            packets.append(publish_packet(topics[sensor], client.next_mid(), body.encode()))
            sent += 1
            readings += array_size
        client.send(packets)
        client.poll(0.0)
    offered = time.monotonic() - started
    wait_until = time.monotonic() + 120
    while client.inflight > 0 and time.monotonic() < wait_until:
        client.poll(0.05)
    client.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((sent, readings, offered, usage.ru_utime + usage.ru_stime, client.inflight))
