"""`resetline technician set-pin` and `resetline console` as the commands a box runs (subprocesses)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from firmware.journal import Journal
from provisioning.technician import load_credential

from serial_cable import Cable
from test_console import Technician

RESETLINE = [sys.executable, "-m", "provisioning.cli"]


def set_pin(state: Path, pin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RESETLINE, "technician", "set-pin", "--state-dir", str(state)], input=pin + "\n",
                          capture_output=True, text=True, timeout=60)


def test_set_pin_stores_only_a_hash_and_refuses_short_ones(tmp_path: Path) -> None:
    state = tmp_path / "state"
    short = set_pin(state, "1234")
    assert short.returncode == 1 and "at least 6 characters" in short.stderr and "nothing changed" in short.stderr
    done = set_pin(state, "7391 lan")
    assert done.returncode == 0, done.stderr
    assert "7391" not in done.stdout + done.stderr
    assert load_credential(state).matches("7391 lan")
    leaked = [p for p in state.rglob("*") if p.is_file() and b"7391 lan" in p.read_bytes()]
    assert leaked == []
    with Journal.open(state / "journal.db") as journal:
        assert [row["action"] for row in journal.audit(5)] == ["pin_set"]


def test_console_command_serves_a_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert set_pin(state, "7391 lan").returncode == 0
    cable = Cable(tmp_path / "ttyUSB9")
    proc = subprocess.Popen([*RESETLINE, "console", "--port", str(cable.box_path), "--state-dir", str(state)],
                            stderr=subprocess.PIPE, text=True)
    try:
        tech = Technician(cable.laptop_fd)
        tech.wait_for(r"Bảng điều khiển.*resetline> $", timeout=30)
        tech.login("7391 lan")
        assert "Logged out" in tech.command("logout")
        tech.login("7391 lan")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        cable.close()
    with Journal.open(state / "journal.db") as journal:
        actions = [row["action"] for row in journal.audit(10)]
    assert actions[:4] == ["logout_shutdown", "login_ok", "logout", "login_ok"]
    assert os.listdir(state / "keys")


def start_console(cable: Cable, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*RESETLINE, "console", "--port", str(cable.box_path), "--state-dir", str(state)],
                            stderr=subprocess.DEVNULL, text=True)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_back_off_survives_a_restart_of_the_console(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert set_pin(state, "7391 lan").returncode == 0
    cable = Cable(tmp_path / "ttyUSB9")
    try:
        proc = start_console(cable, state)
        tech = Technician(cable.laptop_fd)
        tech.wait_for(r"resetline> $", timeout=30)
        for _ in range(5):
            assert "Wrong PIN" in tech.login("guess 0000")
        stop(proc)
        proc = start_console(cable, state)
        tech.screen = b""
        tech.wait_for(r"Bảng điều khiển.*resetline> $", timeout=30)
        refused = tech.command("login")
        assert "Too many wrong PINs" in refused and "PIN (mã PIN)" not in refused
        stop(proc)
    finally:
        cable.close()


def test_console_on_a_pyserial_url(tmp_path: Path) -> None:
    import socket
    state = tmp_path / "state"
    assert set_pin(state, "7391 lan").returncode == 0
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        proc = subprocess.Popen([*RESETLINE, "console", "--port", f"socket://127.0.0.1:{port}", "--state-dir",
                                 str(state)], stderr=subprocess.DEVNULL, text=True)
        try:
            server.settimeout(30)
            conn, _ = server.accept()
            with conn:
                tech = Technician(conn.fileno())
                tech.type(b"\r")
                tech.wait_for(r"resetline> $", timeout=30)
                assert "Logged in" in tech.login("7391 lan")
            # the far end went away: the console waits and connects again
            conn2, _ = server.accept()
            with conn2:
                tech = Technician(conn2.fileno())
                assert "Log in first" in tech.wait_for(r"Bảng điều khiển.*resetline> $", timeout=30) + \
                    tech.command("status")
        finally:
            stop(proc)
