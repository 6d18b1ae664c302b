"""The console over a pseudo-terminal cable, driven the way a technician at picocom would (and lrzsz's sb)."""
from __future__ import annotations

import dataclasses
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.journal import Journal
from provisioning.console.auth import Backoff
from provisioning.console.context import ConsoleSettings, Context
from provisioning.console.session import start_in_thread
from provisioning.console.terminal import Terminal
from provisioning.technician import set_credential
from provisioning.console.ymodem_receiver import ReceiverTimings

from serial_cable import Cable

PIN = "4821 mai"


class Technician:
    """The laptop end: types, and reads the screen."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.screen = b""

    def type(self, text: str | bytes) -> None:
        os.write(self.fd, text.encode() if isinstance(text, str) else text)

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode(), re.S)
        while True:
            match = regex.search(self.screen)
            if match:
                seen = self.screen[:match.end()].decode("utf-8", "replace")
                self.screen = self.screen[match.end():]
                return seen
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen {pattern!r}; screen: {self.screen[-600:]!r}")
            if select.select([self.fd], [], [], min(left, 0.1))[0]:
                self.screen += os.read(self.fd, 65536)

    def command(self, line: str, until: str = r"resetline[#>] $", timeout: float = 15.0) -> str:
        self.type(line + "\r")
        return self.wait_for(until, timeout)

    def login(self, pin: str = PIN) -> str:
        self.command("login", r"PIN \(mã PIN\): ")
        return self.command(pin)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[Cable, Technician, Context]]:
    state = tmp_path / "state"
    state.mkdir()
    set_credential(state, PIN)
    config = tmp_path / "box.toml"
    config.write_text('[box]\nname = "bhxh-test"\n\n[call]\nmenu_timeout_s = 8\n\n[[line]]\nname = "sim0"\n'
                      'kind = "sim"\n', encoding="utf-8")
    cable = Cable(tmp_path / "ttyBOX")
    journal = Journal.open(state / "journal.db")
    settings = ConsoleSettings(state_dir=state, config_path=config, idle_s=30.0,
                               receive=ReceiverTimings(header_wait_s=15.0, block_wait_s=1.0, retries=2),
                               reboot_command=("sh", "-c", f"echo rebooted > {tmp_path / 'reboot.flag'}"))
    ctx = Context(Terminal(str(cable.box_path)), settings, journal, Backoff())
    thread = start_in_thread(ctx)
    tech = Technician(cable.laptop_fd)
    tech.wait_for(r"Type `login`.*resetline> $")
    yield cable, tech, ctx
    ctx.stop.set()
    thread.join(5)
    assert not thread.is_alive()
    cable.close()
    journal.close()


def audit_actions(ctx: Context) -> list[str]:
    return [row["action"] for row in reversed(ctx.journal.audit(100))]


def test_before_login_only_help_and_login(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    shown = tech.command("help")
    assert "login" in shown and "status" not in shown and "More commands after `login`" in shown
    assert "Log in first: type `login`" in tech.command("status")
    assert "Log in first" in tech.command("config set call.menu_timeout_s 9")
    assert "Unknown command 'frobnicate'" in tech.command("frobnicate")
    assert "menu_timeout_s = 8" in ctx.settings.config_path.read_text()  # type: ignore[union-attr]


def test_login_pin_is_not_echoed_and_help_lists_every_command(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    shown = tech.login()
    assert "Logged in" in shown and PIN not in shown and "********" in shown
    listing = tech.command("help")
    for name in ("status", "calls", "config", "snapshot", "prompts check", "line test N", "sync now", "logs",
                 "reboot", "logout", "receive"):
        assert name in listing
    assert "the last N calls" in tech.command("help calls")
    assert "Logged out" in tech.command("logout")
    assert "Log in first" in tech.command("calls")
    assert audit_actions(ctx) == ["login_ok", "logout"]


def test_five_wrong_pins_then_a_growing_wait(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    for _ in range(5):
        assert "Wrong PIN" in tech.login("bad guess 77")
    refused = tech.command("login")
    assert "wait 30 s" in refused or "wait 29 s" in refused
    assert "PIN (mã PIN)" not in refused  # not even asked
    assert audit_actions(ctx) == ["login_failed"] * 5
    assert all("bad guess" not in row["detail"] for row in ctx.journal.audit(10))


def test_status_calls_logs_are_masked_and_missing_commands_said(box: tuple[Cable, Technician, Context]) -> None:
    from firmware.journal import CallRecord
    _, tech, ctx = box
    ctx.journal.record_call(CallRecord("c1", time.time(), "sim0", "09******78", "reset", 36.4))
    tech.login()
    shown = tech.command("status")
    assert "bhxh-test" in shown and "sim0 (sim)" in shown and "Snapshot (dữ liệu)" in shown
    assert "09******78" in shown and "Disk free" in shown and "Uptime" in shown
    assert "Daemon (lines, signal, registration)" in shown  # no daemon runs here: said, not invented
    assert "09******78" in tech.command("calls 5")
    logs = tech.command("logs 20")
    assert "login_ok" in logs or "resetline" in logs
    assert "Usage: calls [N]" in tech.command("calls many")


def test_config_set_validates_writes_atomically_and_audits(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    path = ctx.settings.config_path
    assert path is not None
    tech.login()
    shown = tech.command("config set call.menu_timeout_s 12")
    assert "8 -> 12" in shown and "takes effect when the resetline service restarts" in shown
    assert "menu_timeout_s = 12" in path.read_text()
    before = path.read_text()
    refused = tech.command("config set call.menu_timeout_s 999")
    assert "Not changed" in refused and "between 1 and 60" in refused
    assert "did you mean" in tech.command("config set call.menu_timout_s 9")
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert "call.menu_timeout_s = 12" in tech.command("config show")
    assert audit_actions(ctx)[-3:] == ["config_set", "config_refused", "config_refused"]


def test_snapshot_install_checks_the_name_and_reboot_asks_first(box: tuple[Cable, Technician, Context],
                                                                 tmp_path: Path) -> None:
    _, tech, ctx = box
    tech.login()
    assert "no file 'none.db'" in tech.command("snapshot install none.db")
    assert "refused" in tech.command("snapshot install ../journal.db")
    info = tech.command("snapshot info")
    assert "Traceback" not in info and info.endswith("resetline# ")  # whatever this build answers, no crash
    tech.command("reboot", r"Type YES.*: $")
    assert "Nothing done" in tech.command("no")
    tech.type("reboot\rYES\r")  # typed ahead of the question: must not count as the answer
    tech.wait_for(r"Type YES.*: $")
    time.sleep(0.3)
    assert "Nothing done" in tech.command("no")
    assert not (tmp_path / "reboot.flag").exists()
    tech.command("reboot", r"Type YES.*: $")
    assert "Rebooting" in tech.command("YES")
    assert (tmp_path / "reboot.flag").read_text() == "rebooted\n"
    assert "reboot" in audit_actions(ctx)


def test_garbage_noise_and_a_huge_line_change_nothing(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    path = ctx.settings.config_path
    assert path is not None
    before = path.read_text()
    tech.type(bytes(range(256)) * 8 + os.urandom(4096))
    tech.type(b"\x03")
    tech.wait_for(r"resetline> $")
    tech.type(b"A" * 200_000 + b"\r")
    tech.wait_for(r"Line too long.*resetline> $", timeout=30)
    assert "Logged in" in tech.login()  # still answering, and a PIN still works
    assert path.read_text() == before
    assert audit_actions(ctx) == ["login_ok"]


def test_idle_session_logs_out(tmp_path: Path, box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    tech.login()
    ctx.settings = dataclasses.replace(ctx.settings, idle_s=1.0)  # the next prompt waits only 1 s
    tech.command("calls")
    assert "after 1 s without input" in tech.wait_for(r"Logged out after.*resetline> $", timeout=10)
    assert "Log in first" in tech.command("calls")
    assert audit_actions(ctx)[-1] == "logout_idle"


def test_pulled_cable_logs_out_and_the_console_comes_back(box: tuple[Cable, Technician, Context]) -> None:
    cable, tech, ctx = box
    tech.login()
    cable.unplug()
    time.sleep(0.5)
    cable.plug()
    tech.wait_for(r"Type `login`.*resetline> $", timeout=15)
    assert "Log in first" in tech.command("status")
    assert audit_actions(ctx)[-1] == "logout_port_lost"


@pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")
def test_receive_by_sb_then_the_file_is_in_incoming(box: tuple[Cable, Technician, Context], tmp_path: Path) -> None:
    cable, tech, ctx = box
    tech.login()
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    data = os.urandom(150_000)
    (laptop / "snapshot-0007.db").write_bytes(data)
    tech.command("receive", r"Waiting 15 s for the sender")
    time.sleep(0.2)  # as a technician would, after reading the instructions
    tech.screen = b""
    sb = subprocess.run(["sb", "-vv", "snapshot-0007.db"], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                        stderr=subprocess.DEVNULL, cwd=laptop, timeout=60)
    assert sb.returncode == 0
    shown = tech.wait_for(r"in all\)\r\nresetline# $", timeout=20)
    assert "Received snapshot-0007.db" in shown and "snapshot install snapshot-0007.db" in shown
    assert (ctx.settings.state_dir / "incoming" / "snapshot-0007.db").read_bytes() == data
    assert audit_actions(ctx)[-1] == "receive"
    assert "resetline#" in tech.command("help")  # the console is back to normal after the transfer


def test_delegated_commands_run_for_real_and_missing_ones_are_named(tmp_path: Path) -> None:
    from provisioning.console.delegate import run_resetline
    missing = run_resetline(("snapshot", "no-such-action"), 60)
    assert missing.missing and "not available in this firmware build" in missing.describe()
    config = tmp_path / "box.toml"
    config.write_text('[box]\nname = "bhxh-0912345678"\n', encoding="utf-8")
    checked = run_resetline(("config", "check", "--config", str(config)), 60)
    assert checked.ok and "bhxh-09******78" in checked.output  # real output, masked like the logs


@pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")
def test_broken_upload_keeps_nothing_and_the_console_recovers(box: tuple[Cable, Technician, Context],
                                                              tmp_path: Path) -> None:
    cable, tech, ctx = box
    tech.login()
    (tmp_path / "snapshot-0008.db").write_bytes(os.urandom(3_000_000))
    tech.command("receive", r"Waiting 15 s for the sender")
    tech.screen = b""
    sb = subprocess.Popen(["sb", "-vv", "snapshot-0008.db"], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                          stderr=subprocess.DEVNULL, cwd=tmp_path)

    def kill_mid_file(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 600_000 and sb.poll() is None:
            sb.kill()
            return b""
        return chunk

    cable.tap = kill_mid_file
    sb.wait(30)
    cable.tap = lambda direction, chunk: chunk
    tech.type(b"\x01\x18 random keys after picocom got the line back\r")  # what a confused technician types
    shown = tech.wait_for(r"in all\)\r\nresetline# $", timeout=30)
    assert "Transfer failed" in shown and "nothing partial was kept" in shown
    assert os.listdir(ctx.settings.state_dir / "incoming") == []
    assert "Wrong" not in tech.command("help") and audit_actions(ctx)[-1] == "receive_failed"


@pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")
def test_technician_gives_up_on_receive_with_ctrl_x(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    tech.login()
    tech.command("receive", r"Waiting 15 s for the sender")
    tech.type(b"\x18" * 5)
    shown = tech.wait_for(r"in all\)\r\nresetline# $", timeout=10)
    assert "Transfer failed: the sender cancelled" in shown
    assert "snapshot install NAME   (uploaded files: none yet)" in tech.command("snapshot install")


def test_prompts_check_line_test_and_sync_run_the_real_commands(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    tech.login()
    assert "OK: 29 prompt files" in tech.command("prompts check", timeout=60)
    shown = tech.command("line test sim0", timeout=60)
    assert "state: up" in shown and "OK: line is up" in shown
    assert "no such line" in tech.command("line test 7", timeout=60)
    synced = tech.command("sync now", timeout=60)
    assert "Syncing with central" in synced and "Traceback" not in synced  # whatever this build's sync answers
    assert audit_actions(ctx)[-3:] == ["line_test", "line_test", "sync_now"]


def test_login_without_a_pin_set_says_how_to_set_one(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, ctx = box
    (ctx.settings.state_dir / "keys" / "technician.scrypt").unlink()
    shown = tech.command("login")
    assert "no technician PIN is set" in shown and "resetline technician set-pin" in shown
    assert "PIN (mã PIN)" not in shown


def test_pasted_commands_run_one_after_another(box: tuple[Cable, Technician, Context]) -> None:
    _, tech, _ = box
    tech.type("help login\rfrobnicate\r")
    shown = tech.wait_for(r"Unknown command 'frobnicate'.*resetline> $")
    assert "log in with the technician PIN" in shown


@pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")
def test_cable_pulled_mid_batch_keeps_the_finished_file_only(box: tuple[Cable, Technician, Context],
                                                            tmp_path: Path) -> None:
    cable, tech, ctx = box
    tech.login()
    (tmp_path / "box.toml.new").write_bytes(b"[box]\nname = 'x'\n")
    (tmp_path / "snapshot-0009.db").write_bytes(os.urandom(2_000_000))
    tech.command("receive", r"Waiting 15 s for the sender")
    sb = subprocess.Popen(["sb", "-vv", "-k", "box.toml.new", "snapshot-0009.db"], stdin=cable.laptop_fd,
                          stdout=cable.laptop_fd, stderr=subprocess.DEVNULL, cwd=tmp_path)

    def pull_mid_second_file(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 700_000:
            cable.tap = lambda d, c: c
            cable.unplug()
            return b""
        return chunk

    cable.tap = pull_mid_second_file
    deadline = time.monotonic() + 20
    while "logout_port_lost" not in audit_actions(ctx) and time.monotonic() < deadline:
        time.sleep(0.1)
    sb.kill()
    sb.wait(10)
    assert os.listdir(ctx.settings.state_dir / "incoming") == ["box.toml.new"]
    assert audit_actions(ctx)[-3:] == ["receive", "receive_failed", "logout_port_lost"]
    cable.plug()
    tech.screen = b""
    tech.wait_for(r"Bảng điều khiển.*resetline> $", timeout=15)


def test_status_shows_the_running_daemons_lines_and_says_when_it_is_not_running(
        box: tuple[Cable, Technician, Context]) -> None:
    import sys
    _, tech, ctx = box
    tech.login()
    shown = tech.command("status", timeout=60)
    assert "Box name (tên hộp):        bhxh-test" in shown
    assert "not running" in shown  # no daemon yet: said plainly, the rest of the status still shown
    config = ctx.settings.config_path
    assert config is not None
    daemon = subprocess.Popen([sys.executable, "-m", "provisioning.cli", "run", "--config", str(config),
                               "--state-dir", str(ctx.settings.state_dir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        socket_path = ctx.settings.state_dir / "run" / "control.sock"
        deadline = time.monotonic() + 30
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = tech.command("status", timeout=60)
        assert "lines.0.name: sim0" in shown and "lines.0.state: up" in shown
    finally:
        daemon.terminate()
        daemon.wait(30)


@pytest.mark.skipif(not shutil.which("sb"), reason="lrzsz is not installed")
def test_a_signed_snapshot_uploaded_by_sb_is_installed_and_shown(box: tuple[Cable, Technician, Context],
                                                                 tmp_path: Path) -> None:
    from snapshot_kit import REGION, make_central, publish
    cable, tech, ctx = box
    central = make_central(tmp_path)
    snap = publish(central, 1, count=50)
    config = ctx.settings.config_path
    assert config is not None
    config.write_text(config.read_text(encoding="utf-8") + f'\n[central]\nurl = "http://127.0.0.1:9"\n'
                      f'region = "{REGION}"\nsigning_public_key = "{central / "signing.pub"}"\n', encoding="utf-8")
    tech.login()
    tech.command("receive", r"Waiting 15 s for the sender")
    time.sleep(0.2)
    sb = subprocess.run(["sb", "-k", snap.name], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                        stderr=subprocess.DEVNULL, cwd=snap.parent, timeout=60)
    assert sb.returncode == 0
    tech.wait_for(r"in all\)\r\nresetline# $", timeout=20)
    installed = tech.command(f"snapshot install {snap.name}", timeout=120)
    assert "installed sequence 1" in installed, installed
    info = tech.command("snapshot info", timeout=60)
    assert REGION in info and "rows" in info and "Traceback" not in info
    assert "refused" in tech.command(f"snapshot install {snap.name}", timeout=120).lower()  # not newer: refused
