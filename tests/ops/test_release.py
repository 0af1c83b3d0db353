"""An installable release (issue 18): the lock files pin, with hashes, every package
pyproject.toml asks for at a version it allows, and the wheel carries the templates, static
files and compiled translations beside the code."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.gates import missing

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(
    r"^([A-Za-z0-9._-]+)==([^ \\]+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.M
)


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / lock).read_text()
    found = {canonicalize_name(name): Version(version) for name, version, _ in PIN.findall(text)}
    requirement_lines = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(found) == len(requirement_lines), "a pin without a hash"
    return found


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ["runtime"]), ("requirements-dev.lock", ["runtime", "dev"])],
)
def test_the_lock_pins_every_dependency_with_hashes(lock, groups):
    pinned = pins(lock)
    wanted = list(PROJECT["dependencies"])
    if "dev" in groups:
        wanted += PROJECT["optional-dependencies"]["dev"]
    stale = []
    for line in wanted:
        requirement = Requirement(line)
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            stale.append(f"{line} (locked: {version})")
    assert not stale, "run `make lock`: " + ", ".join(stale)
    if lock == "requirements.lock":  # production installs no test tools
        assert not {"pytest", "playwright", "moto", "ruff"} & set(pinned)


def test_the_wheel_carries_templates_static_files_and_translations(tmp_path):
    if Version(metadata.version("setuptools")) < Version("77"):
        missing("setuptools < 77 in this environment: install from the lock (make install)")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = tmp_path.glob(f"lantai-{PROJECT['version']}-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in [
        "templates/base.html",
        "static/css/lantai.css",
        "locale/zh_Hans/LC_MESSAGES/django.po",
        "locale/zh_Hans/LC_MESSAGES/django.mo",  # compiled (make messages runs before)
        "config/settings.py",
        "core/migrations/0003_outgoing_mail.py",
    ]:
        assert expected in names, expected
    assert not [name for name in names if name.startswith(("tests/", "bench/", "scripts/"))]
