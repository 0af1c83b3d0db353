"""The layers of STYLE.md "Layout" (apps depend only downward) and the hooks that keep them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import hooks
from core.hooks import Hook
from search import outbox
from storage_env import ingest_sink, services

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "function_imports", ROOT / "scripts" / "function_imports.py"
)
function_imports = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(function_imports)


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_hook_without_its_provider_names_the_app():
    hook = Hook("example.store", provider="storage_env")
    with pytest.raises(ImproperlyConfigured, match="storage_env"):
        hook(1)
    hook.register(lambda value: value * 2)
    assert hook(21) == 42


def test_an_optional_hook_falls_back_to_its_default():
    hook = Hook("example.optional", provider="search", default=lambda *a, **k: 0)
    assert not hook.registered
    assert hook(object()) == 0


def test_upper_apps_register_their_hooks_when_ready():
    assert hooks.outbox_enqueue.func is outbox.enqueue
    assert hooks.outbox_enqueue_many.func is outbox.enqueue_many
    assert hooks.insert_readings.func is ingest_sink.insert_readings
    assert hooks.forget_reading_staging.func is ingest_sink.forget_staging
    assert hooks.device_alarm.func is services.apply_device_alarm
    assert hooks.push_readings.func is services.push_readings
    # The audit log's door asks every app that owns objects a viewer may not see.
    assert set(dict(hooks.audit_hidden_objects.items())) == {
        "repository.item",
        "repository.volume",
        "repository.digitalpage",
        "borrowing.accessrequest",
        "borrowing.loan",
        "borrowing.digitalgrant",
    }
    assert set(dict(hooks.audit_hidden_names.items())) == {"repository"}


def test_every_import_left_inside_a_function_says_why():
    """An import stays inside a function only with ``# noqa: PLC0415 - <reason>`` (ruff's
    PLC0415 holds the rest; scripts/function_imports.py counts them)."""
    undocumented = []
    for path in function_imports.iter_sources([ROOT / app for app in function_imports.APPS]):
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, documented in function_imports.function_imports(path):
            reason = lines[line - 1].partition("noqa: PLC0415")[2].strip(" -")
            if documented and not reason:
                undocumented.append(f"{path.relative_to(ROOT)}:{line}")
    assert undocumented == []


def test_the_counter_finds_imports_in_functions_only(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text(
        "import os\n\n\ndef f():\n    import json\n"
        "    from re import compile  # noqa: PLC0415 - x\n"
        "    return json, compile, os\n\n\nclass C:\n    def m(self):\n        import csv\n"
    )
    assert function_imports.function_imports(module) == [(5, False), (6, True), (12, False)]
