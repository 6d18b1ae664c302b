"""Field faults against `resetline run` as a subprocess, its GSM line on a ModemSimulator behind a pty in this
process, its GPIO simulated (pin changes traced to a file), its notify socket a real datagram socket: a modem
unplugged mid-call, a modem that stops answering (brought back by the power key on GPIO), SIGKILL during a
call and during a modem reset, the journal's disk full, and a stuck loop that stops the watchdog."""
from __future__ import annotations

import json
import resource
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import subprocess

import pytest

from daemon_rig import REPO, RESETLINE, Daemon
from drivers.gsm import ModemSimulator

POWER_PIN = 17
CONFIG = """
[[line]]
name = "gsm0"
kind = "gsm"
port = "{port}"
profile = "ec25"
power_gpio = {pin}
timings = {{ command_s = 0.5, probe_s = 0.3, keepalive_s = 0.5, in_call_keepalive_s = 0.3, reboot_s = 1.5, port_return_s = 1.0, down_retry_s = 0.5, stable_s = 1.0, clip_wait_s = 0.2 }}
[gpio]
backend = "sim"
trace = "{trace}"
power_key_s = 0.05
power_off_wait_s = 0.1
led_power = 5
led_line = 6
led_call = 13
led_fault = 19
"""


class Far:
    """The caller: what the box says, and whether it hung up."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.hung_up = threading.Event()

    def prompt_started(self, prompt_id: str) -> None:
        self.heard.append(prompt_id)

    def silent(self) -> None:
        pass

    def box_hung_up(self) -> None:
        self.hung_up.set()

    def wait_heard(self, prompt_id: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while prompt_id not in self.heard:
            assert time.monotonic() < deadline, f"never heard {prompt_id}; heard {self.heard}"
            time.sleep(0.02)


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.trace = tmp / "gpio.jsonl"
        self.sim = ModemSimulator("ec25", speed=20, link=tmp / "ec25", boot_s=0.5)
        self.sim.start()
        self.config = tmp / "box.toml"
        self.config.write_text(CONFIG.format(port=tmp / "ec25", pin=POWER_PIN, trace=self.trace), encoding="utf-8")
        self.daemons: list[Daemon] = []

    def start(self, **options: Any) -> Daemon:
        daemon = Daemon(self.tmp, self.config, self.state, name=f"d{len(self.daemons)}", **options)
        self.daemons.append(daemon)
        return daemon

    def status(self, daemon: Daemon) -> dict[str, Any]:
        result = daemon.status()
        assert result.returncode in (0, 1), result.stderr
        return dict(json.loads(result.stdout))

    def wait_line(self, daemon: Daemon, state: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(daemon)
            if status["lines"][0]["state"] == state:
                return status
            assert time.monotonic() < deadline, f"line never {state}: {status['lines']}\n{daemon.text()[-3000:]}"
            time.sleep(0.1)

    def call(self, caller: str = "0912345678") -> Far:
        far = Far()
        self.sim.ring(caller, far)
        return far

    def journal(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.state / "journal.db") as db:
            return list(db.execute("SELECT line, caller_masked, outcome FROM calls ORDER BY id"))

    def outbox(self) -> list[str]:
        """call_ref of every reset event, oldest first."""
        with sqlite3.connect(self.state / "journal.db") as db:
            return [row[0] for row in db.execute("SELECT call_ref FROM outbox ORDER BY id")]

    def call_refs(self) -> list[str]:
        with sqlite3.connect(self.state / "journal.db") as db:
            return [row[0] for row in db.execute("SELECT call_ref FROM calls ORDER BY id")]

    def import_accounts(self) -> None:
        subprocess.run([str(RESETLINE), "snapshot", "import", "--csv", str(REPO / "examples" / "accounts.csv"),
                        "--state-dir", str(self.state), "--kdf-n", "1024"], check=True, capture_output=True)

    def reset_call(self, far: Far | None = None) -> Far:
        """The first account of examples/accounts.csv calls (or has called) and asks for a reset."""
        if far is None:
            far = self.call("0912345678")
        far.wait_heard("welcome")
        for key in "80123456789":
            self.sim.press(key)
            time.sleep(0.05)
        return far

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.close()
        self.sim.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


def test_modem_unplugged_while_the_password_is_read(rig: Rig) -> None:
    rig.import_accounts()
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    far = rig.call()
    far.wait_heard("welcome")
    assert rig.status(box)["calls_in_progress"][0]["line"] == "gsm0"  # the menu waits 8 s for the key
    rig.reset_call(far)
    far.wait_heard("new_password")
    rig.sim.vanish(reappear_after=10)  # simulated seconds: 0.5 s here
    rig.wait_line(box, "up")
    assert rig.journal() == [("gsm0", "09******78", "caller_hangup")]
    assert rig.outbox() == rig.call_refs()  # the reset event stays for central
    again = rig.call()
    again.wait_heard("welcome")  # the line serves again, by itself
    assert box.terminate() == 0
    leds = [json.loads(line) for line in _lines(rig.trace)]
    call_led = [change for change in leds if change["pin"] == 13]
    assert [change["on"] for change in call_led[:2]] == [True, False]  # lit in the first call, dark once cut
    in_call = call_led[0]["t"]
    assert any(c["pin"] == 6 and not c["on"] and c["t"] > in_call for c in leds)  # line LED left steady on
    assert [change["on"] for change in leds if change["pin"] == 5][-1] is False  # power LED off at exit


def test_a_modem_that_stops_answering_is_power_cycled_through_gpio(rig: Rig) -> None:
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    rig.sim.go_silent()
    deadline = time.monotonic() + 30
    while not any(json.loads(line)["pin"] == POWER_PIN for line in _lines(rig.trace)):
        assert time.monotonic() < deadline, box.text()[-3000:]
        time.sleep(0.05)
    rig.sim.power_cycle()  # the pulse on the power key reached the modem
    status = rig.wait_line(box, "up")
    presses = [json.loads(line)["on"] for line in _lines(rig.trace) if json.loads(line)["pin"] == POWER_PIN]
    assert presses[:4] == [True, False, True, False]  # off press, on press
    assert status["lines"][0]["restarts"] == 0  # the driver's own ladder brought it back
    assert box.terminate() == 0


def test_sigkill_while_the_password_is_read_loses_neither_call_nor_reset(rig: Rig) -> None:
    rig.import_accounts()
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    far = rig.reset_call()
    far.wait_heard("new_password")
    box.kill()
    rig.sim.caller_hangs_up()
    second = rig.start()
    second.notify.wait_for("READY", "1")
    rig.wait_line(second, "up")
    assert rig.journal() == [("gsm0", "09******78", "error")]  # cut by the kill, journalled at the next start
    assert rig.outbox() == rig.call_refs()  # the reset committed before the password was spoken is there
    assert "1 call(s) cut by the last stop journalled as error" in second.text()
    rig.call().wait_heard("welcome")
    assert second.terminate() == 0


def test_sigkill_during_a_modem_reset(rig: Rig) -> None:
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    rig.sim.go_silent()
    rig.wait_line(box, "recovering")
    box.kill()
    rig.sim.power_cycle()
    second = rig.start()
    second.notify.wait_for("READY", "1")
    rig.wait_line(second, "up")
    rig.call().wait_heard("welcome")
    assert second.terminate() == 0


def test_sigterm_lets_the_call_in_progress_finish(rig: Rig) -> None:
    rig.import_accounts()
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    far = rig.reset_call()
    far.wait_heard("new_password")
    box.proc.send_signal(15)
    assert box.proc.wait(timeout=60) == 0
    assert "goodbye" in far.heard and far.heard.count("new_password") == 1 and far.hung_up.is_set()
    assert rig.journal() == [("gsm0", "09******78", "reset")] and rig.outbox() == rig.call_refs()
    assert box.notify.seen("STOPPING", "1")


def test_a_stuck_loop_stops_the_watchdog(rig: Rig) -> None:
    box = rig.start(watchdog_s=0.4)
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    holder = sqlite3.connect(rig.state / "journal.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the journal: the loop's write waits (busy timeout)
    rig.call()
    time.sleep(3.0)
    holder.execute("ROLLBACK")
    holder.close()
    time.sleep(1.5)
    pings = box.notify.pings()
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert max(gaps) >= 2.5, gaps  # nothing while the loop was stuck
    assert pings[-1] > time.monotonic() - 1.0  # and pinging again after
    assert box.terminate() == 0


def test_the_journal_disk_full(rig: Rig) -> None:
    rig.import_accounts()
    box = rig.start()
    box.notify.wait_for("READY", "1")
    rig.wait_line(box, "up")
    sizes = [p.stat().st_size for p in rig.state.glob("journal.db*")]
    # No tmpfs or loop device without root: RLIMIT_FSIZE on the daemon makes every write past the current file
    # sizes fail (EFBIG; SQLite reports a disk I/O error), as a full card fails every write that needs a block.
    resource.prlimit(box.proc.pid, resource.RLIMIT_FSIZE, (max(sizes), resource.RLIM_INFINITY))
    far = rig.reset_call()
    assert far.hung_up.wait(30), far.heard
    assert "error" in far.heard and "new_password" not in far.heard  # an apology, never an unrecorded password
    deadline = time.monotonic() + 20
    while not (status := rig.status(box))["journal"]["records_waiting"]:
        assert time.monotonic() < deadline, box.text()[-3000:]
        time.sleep(0.1)
    assert {"code": 3, "what": "the journal cannot be written"} in status["faults"]
    assert rig.journal() == [] and rig.outbox() == []
    resource.prlimit(box.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert box.terminate() == 0  # the kept record is flushed on the way out
    assert rig.journal() == [("gsm0", "09******78", "error")] and rig.outbox() == []


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
