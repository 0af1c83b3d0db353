"""Sample messages of each profile, as the projects document them (sources cited per entry;
see devices/mqtt/sources.py). Each is (topic, payload bytes). ``{id}`` is the device id."""

from __future__ import annotations

import datetime as dt
import json


def z2m(friendly_name: str, *, base: str = "zigbee2mqtt") -> dict[str, tuple[str, bytes]]:
    # https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html (WSDCGQ01LM example,
    # battery and linkquality as exposed), .../configuration/device-availability.html,
    # .../devices/TS0207_water_leak_detector_3.html (water_leak, battery_low, battery, tamper)
    topic = f"{base}/{friendly_name}"
    return {
        "telemetry": (
            topic,
            b'{"temperature": 27.34, "humidity": 44.72, "battery": 86, "linkquality": 97}',
        ),
        "availability": (f"{topic}/availability", b'{"state": "online"}'),
        "availability_legacy": (f"{topic}/availability", b"offline"),
        "leak": (
            topic,
            b'{"water_leak": true, "battery_low": false, "battery": 90, "tamper": false}',
        ),
        "leak_dry": (topic, b'{"water_leak": false, "battery_low": false, "tamper": false}'),
        "bridge": (f"{base}/bridge/state", b'{"state": "online"}'),
        # malformed
        "bad_number": (topic, b'{"temperature": "warm", "humidity": 44.72}'),
        "bad_json": (topic, b'{"temperature": 27.34,'),
        "hot": (topic, b'{"temperature": 270.34}'),
    }


def tasmota(device_topic: str, *, time: dt.datetime) -> dict[str, tuple[str, bytes]]:
    # https://tasmota.github.io/docs/AM2301: tele/%topic%/SENSOR with local time, no offset
    local = time.strftime("%Y-%m-%dT%H:%M:%S")
    body = {"Time": local, "AM2301": {"Temperature": 24.6, "Humidity": 58.2}, "TempUnit": "C"}
    fahrenheit = {"Time": local, "DHT11": {"Temperature": 71.6, "Humidity": 40.0}, "TempUnit": "F"}
    return {
        "telemetry": (f"tele/{device_topic}/SENSOR", json.dumps(body).encode()),
        "fahrenheit": (f"tele/{device_topic}/SENSOR", json.dumps(fahrenheit).encode()),
        "lwt_online": (f"tele/{device_topic}/LWT", b"Online"),
        "lwt_offline": (f"tele/{device_topic}/LWT", b"Offline"),
        "state": (f"tele/{device_topic}/STATE", b'{"Time": "' + local.encode() + b'"}'),
        # malformed
        "no_time": (f"tele/{device_topic}/SENSOR", b'{"AM2301": {"Temperature": 24.6}}'),
        "bad_unit": (
            f"tele/{device_topic}/SENSOR",
            json.dumps({**body, "TempUnit": "K"}).encode(),
        ),
        "no_values": (f"tele/{device_topic}/SENSOR", json.dumps({"Time": local}).encode()),
    }


def shelly_gen1(device_id: str) -> dict[str, tuple[str, bytes]]:
    # Shelly gen 1 MQTT: shellies/<id>/sensor/<value>, shellies/<id>/online (true/false)
    base = f"shellies/{device_id}"
    return {
        "temperature": (f"{base}/sensor/temperature", b"21.5"),
        "humidity": (f"{base}/sensor/humidity", b"45"),
        "battery": (f"{base}/sensor/battery", b"87"),
        "online": (f"{base}/online", b"true"),
        "offline": (f"{base}/online", b"false"),
        "flood": (f"{base}/sensor/flood", b"true"),
        "flood_dry": (f"{base}/sensor/flood", b"false"),
        "lux": (f"{base}/sensor/lux", b"120"),
        # malformed
        "bad_number": (f"{base}/sensor/temperature", b"n/a"),
        "bad_online": (f"{base}/online", b"maybe"),
    }


def shelly_gen2(device_id: str, *, ts: float) -> dict[str, tuple[str, bytes]]:
    # https://shelly-api-docs.shelly.cloud/gen2/General/Notifications (NotifyStatus on
    # <shelly-id>/events/rpc; params.ts unix UTC; only what changed), component keys as in a
    # Plus H&T NotifyFullStatus (temperature:0 tC/tF, humidity:0 rh, devicepower:0 battery)
    def rpc(method: str, params: dict) -> bytes:
        return json.dumps(
            {"src": device_id, "dst": f"{device_id}/events", "method": method, "params": params}
        ).encode()

    topic = f"{device_id}/events/rpc"
    return {
        "full": (
            topic,
            rpc(
                "NotifyFullStatus",
                {
                    "ts": ts,
                    "temperature:0": {"id": 0, "tC": 19.8, "tF": 67.6},
                    "humidity:0": {"id": 0, "rh": 42.2},
                    "devicepower:0": {"id": 0, "battery": {"V": 5.9, "percent": 84}},
                },
            ),
        ),
        "humidity_only": (
            topic,
            rpc("NotifyStatus", {"ts": ts + 60, "humidity:0": {"id": 0, "rh": 47.5}}),
        ),
        "wifi_only": (topic, rpc("NotifyStatus", {"ts": ts, "wifi": {"rssi": -60}})),
        "event": (topic, rpc("NotifyEvent", {"ts": ts, "events": []})),
        "flood": (
            topic,
            rpc("NotifyStatus", {"ts": ts + 1, "flood:0": {"id": 0, "alarm": True}}),
        ),
        "online": (f"{device_id}/online", b"true"),
        "offline": (f"{device_id}/online", b"false"),
        # malformed
        "bad_ts": (
            topic,
            rpc("NotifyStatus", {"ts": "yesterday", "temperature:0": {"id": 0, "tC": 20.0}}),
        ),
    }


def home_assistant(node: str, *, base: str = "homeassistant-state") -> dict:
    # https://www.home-assistant.io/integrations/sensor.mqtt (JSON state_topic read with
    # value_json, availability payload_available "online" / payload_not_available "offline")
    return {
        "telemetry": (f"{base}/{node}/state", b'{"temperature": 23.2, "humidity": 43.7}'),
        "leak": (f"{base}/{node}/state", b'{"moisture": "ON"}'),
        "available": (f"{base}/{node}/availability", b"online"),
        "unavailable": (f"{base}/{node}/availability", b"offline"),
    }


def dtu(gateway: str, register: str, *, ts: int) -> dict[str, tuple[str, bytes]]:
    # A DTU gateway's own JSON for RS485 sensors (issue 19): scaled integers, register numbers
    topic = f"dtu/{gateway}/data"
    return {
        "telemetry": (topic, json.dumps({"dev": register, "T": 215, "H": 455, "t": ts}).encode()),
        "leak": (topic, json.dumps({"dev": register, "T": 215, "leak": 1, "t": ts + 1}).encode()),
        # malformed
        "no_register": (topic, json.dumps({"T": 215, "H": 455, "t": ts}).encode()),
        "string_value": (topic, json.dumps({"dev": register, "T": "x", "t": ts}).encode()),
        "old": (topic, json.dumps({"dev": register, "T": 215, "t": ts - 30 * 86400}).encode()),
    }


DTU_MAPPING = {
    "temperature": {"path": "T", "scale": 0.1},
    "humidity": {"path": "H", "scale": 0.1},
    "time": {"path": "t", "format": "epoch"},
    "alarms": [{"path": "leak", "code": "water_leak", "severity": "critical", "active_when": 1}],
}
