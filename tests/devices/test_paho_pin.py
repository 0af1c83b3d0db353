"""``devices.mqtt.client.IngestClient`` overrides paho internals (docs/ingest-fast-path.md): the
paho range in pyproject.toml is the one minor version it was measured and tested on."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from devices.mqtt.client import IngestClient

ROOT = Path(__file__).resolve().parents[2]


def test_paho_is_pinned_to_the_tested_minor():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [d for d in pyproject["project"]["dependencies"] if re.match(r"paho-mqtt *[<>=~!]", d)]
    major, minor = (int(part) for part in version("paho-mqtt").split(".")[:2])
    assert pins == [f"paho-mqtt>={major}.{minor},<{major}.{minor + 1}"]
    assert IngestClient.supports_fast_path()
