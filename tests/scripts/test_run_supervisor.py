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
