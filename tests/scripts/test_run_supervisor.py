"""``make run``'s launcher keeps every process running: a process that dies is restarted with
a backoff, named with how it ended, counted in var/run-status.json; nothing else stops."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_module():
    spec = importlib.util.spec_from_file_location("lantai_run", ROOT / "scripts" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(condition, supervisor, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.tick()
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_dead_worker_is_restarted_with_backoff_and_the_others_keep_running(
    run_module, tmp_path, capsys
):
    crashing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    supervisor = run_module.Supervisor([("crashy", crashing), ("steady", steady)], dict(os.environ))
    supervisor.status_file = tmp_path / "status.json"
    supervisor.start_all()
    steady_pid = supervisor.children["steady"].pid
    try:
        assert wait_for(lambda: supervisor.restarts["crashy"] >= 2, supervisor)
        # backoff doubles with each quick death: 1 s, then 2 s
        assert supervisor.quick_deaths["crashy"] >= 2
        assert supervisor.children["steady"].pid == steady_pid
        assert supervisor.children["steady"].poll() is None
        out = capsys.readouterr().out
        assert "crashy" in out and "exit code 3" in out and "restarting in 1 s" in out
        assert "restarting in 2 s" in out
        status = json.loads(supervisor.status_file.read_text())
        assert status["crashy"]["restarts"] >= 2 and status["crashy"]["exits"][0]["code"] == 3
        assert status["steady"]["restarts"] == 0 and status["steady"]["running"] is True
    finally:
        supervisor.stop_all()
    assert all(child.poll() is not None for child in supervisor.children.values())


def test_a_killed_worker_comes_back(run_module, tmp_path, capsys):
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    supervisor = run_module.Supervisor([("worker", steady)], dict(os.environ))
    supervisor.status_file = tmp_path / "status.json"
    supervisor.start_all()
    first = supervisor.children["worker"].pid
    try:
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: supervisor.children["worker"].pid != first, supervisor)
        assert supervisor.children["worker"].poll() is None
        assert "signal 9" in capsys.readouterr().out
    finally:
        supervisor.stop_all()


# --- The embedded default is a small archive's production (issue 18) ---------------------------


def test_first_start_generates_a_private_secret_key_and_reuses_it(run_module, tmp_path):
    env = {"LANTAI_VAR_DIR": str(tmp_path)}
    path = run_module.ensure_secret_key(env)
    assert path == tmp_path / "secret_key"
    assert env["SECRET_KEY_FILE"] == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    secret = path.read_text()
    assert len(secret) >= 50
    # the second start keeps the key (sessions and signed links stay valid) ...
    again = {"LANTAI_VAR_DIR": str(tmp_path)}
    run_module.ensure_secret_key(again)
    assert path.read_text() == secret
    # ... and takes back a key somebody made readable
    path.chmod(0o644)
    run_module.ensure_secret_key({"LANTAI_VAR_DIR": str(tmp_path)})
    assert path.stat().st_mode & 0o777 == 0o600


def test_no_generated_secret_when_one_is_given_or_in_development(run_module, tmp_path):
    for env in (
        {"LANTAI_VAR_DIR": str(tmp_path), "SECRET_KEY": "given"},
        {"LANTAI_VAR_DIR": str(tmp_path), "SECRET_KEY_FILE": "/run/secrets/x"},
        {"LANTAI_VAR_DIR": str(tmp_path), "DEBUG": "true"},
    ):
        assert run_module.ensure_secret_key(env) is None
    assert not (tmp_path / "secret_key").exists()


def test_plain_http_defaults_never_override_what_is_set(run_module):
    env = {"SECURE_SSL_REDIRECT": "true"}
    run_module.embedded_defaults(env, "127.0.0.1")
    assert env["SECURE_SSL_REDIRECT"] == "true"
    assert env["SESSION_COOKIE_SECURE"] == "false" and env["SECURE_HSTS_SECONDS"] == "0"
    assert env["ALLOWED_HOSTS"].split(",")[:3] == ["localhost", "127.0.0.1", "[::1]"]
    behind_tls = {"SITE_URL": "https://archive.example.org"}
    run_module.embedded_defaults(behind_tls, "127.0.0.1")
    assert "SESSION_COOKIE_SECURE" not in behind_tls and "SECURE_SSL_REDIRECT" not in behind_tls
    development = {"DEBUG": "true"}
    run_module.embedded_defaults(development, "127.0.0.1")
    assert development == {"DEBUG": "true"}


def test_the_simulator_runs_only_with_the_embedded_broker_or_when_asked(run_module):
    condition = {name: cond for name, _cmd, _extra, cond in run_module.WORKERS}["simulator"]
    assert condition({})
    assert not condition({"MQTT_URL": "mqtt://broker.example:1883"})
    assert condition({"MQTT_URL": "mqtt://broker.example:1883", "LANTAI_SIMULATOR": "true"})
    broker = {name: cond for name, _cmd, _extra, cond in run_module.WORKERS}["mqtt-broker"]
    assert not broker({"MQTT_URL": "mqtt://broker.example:1883"})
