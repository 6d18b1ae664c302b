"""`resetline run` under a systemd-style notify socket, and `resetline status` over its control socket."""
from __future__ import annotations

import json
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon_rig import RESETLINE, Daemon

CONFIG = """
[box]
name = "test-office"
[[line]]
name = "sim0"
kind = "sim"
[[line]]
name = "sim1"
kind = "sim"
"""


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Daemon]:
    config = tmp_path / "box.toml"
    config.write_text(CONFIG, encoding="utf-8")
    daemon = Daemon(tmp_path, config, tmp_path / "state")
    yield daemon
    daemon.close()


def test_ready_status_watchdog_and_a_clean_stop(box: Daemon) -> None:
    ready = box.notify.wait_for("READY", "1")
    assert ready["STATUS"].startswith("serving: sim0 up, sim1 up; 0 calls; outbox 0")
    time.sleep(1.0)
    pings = box.notify.pings()
    assert len(pings) >= 3  # every 0.2 s for WATCHDOG_USEC = 0.4 s
    assert max(b - a for a, b in zip(pings, pings[1:])) < 0.4
    assert box.terminate() == 0
    stopping = box.notify.wait_for("STOPPING", "1", timeout=5)
    assert stopping["STATUS"].startswith("stopping:")
    assert "0 call(s) in progress may finish" in box.text()


def test_status_over_the_control_socket(box: Daemon) -> None:
    box.notify.wait_for("READY", "1")
    result = box.status()
    assert result.returncode == 1, result.stderr  # no snapshot installed: fault 2
    status = json.loads(result.stdout)
    assert [(line["name"], line["state"]) for line in status["lines"]] == [("sim0", "up"), ("sim1", "up")]
    assert status["calls_in_progress"] == [] and status["outbox_backlog"] == 0
    assert status["snapshot"]["installed"] is False
    assert status["faults"] == [{"code": 2, "what": "no snapshot installed"}]
    assert status["watchdog"]["enabled"] and status["watchdog"]["healthy"]
    socket_path = box.runtime / "control.sock"
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(box.runtime.stat().st_mode) == 0o700
    text = subprocess.run([str(RESETLINE), "status", "--runtime-dir", str(box.runtime)], capture_output=True,
                          text=True, timeout=30)
    assert "line sim0 [sim]: up" in text.stdout and "FAULT 2: no snapshot installed" in text.stdout
    assert box.terminate() == 0
    assert not socket_path.exists()
    gone = box.status()
    assert gone.returncode == 3 and "the daemon is not running" in gone.stderr


def test_a_second_daemon_on_the_same_runtime_dir_refuses(box: Daemon, tmp_path: Path) -> None:
    box.notify.wait_for("READY", "1")
    second = subprocess.run(
        [str(RESETLINE), "run", "--config", str(tmp_path / "box.toml"), "--state-dir", str(tmp_path / "s2"),
         "--runtime-dir", str(box.runtime)], capture_output=True, text=True, timeout=60,
    )
    assert second.returncode == 2 and "another daemon answers" in second.stderr
    assert box.status().returncode == 1  # the first one still answers


def test_real_gpio_that_is_not_there_stops_the_daemon_with_a_reason(tmp_path: Path) -> None:
    config = tmp_path / "pi.toml"
    config.write_text('[gpio]\nbackend = "rpi"\nled_power = 5\n[[line]]\nname = "sim0"\nkind = "sim"\n')
    result = subprocess.run([str(RESETLINE), "run", "--config", str(config), "--state-dir", str(tmp_path / "s"),
                             "--runtime-dir", str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "RPi.GPIO is not usable here" in result.stderr  # no silent simulated pins
