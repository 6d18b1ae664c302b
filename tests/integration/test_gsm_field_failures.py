"""The cellular rows of field-failures.md that test_gsm_calls.py does not already cover, each over the pty:
SIM7600's PCM registration switched per call, a USB rebind through sysfs bringing a hung modem back, a port held
by another process (exclusive open), and a call-waiting caller during a call."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.gsm import GsmLine
from fake_sysfs import fake_sysfs
from test_gsm_calls import CALLER, CODE, FAST, Bench, readings, run_bench  # noqa: F401  (run_bench is a fixture)


def test_sim7600_pcm_registration_is_switched_on_at_answer_and_off_at_the_end(
    run_bench: Callable[..., None],
) -> None:
    """wdoekes #149/#137, PR #162: one-way audio when SIM7600's PCM registration is not switched per call."""
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset" and len(readings(ear)) == 2
        for _ in range(100):
            if "AT+CHUP" in bench.sim.commands:
                break
            await asyncio.sleep(0.02)
        commands = bench.sim.commands
        answered = commands.index("ATA")
        assert commands[answered + 1:answered + 3] == ["AT+CPCMFRM=0", "AT+CPCMREG=1"]
        assert "AT+CPCMREG=0" in commands[answered + 3:]  # off again when the call ends (it was off before ATA)
        assert "AT+CPCMREG=0" in commands[:answered]

    run_bench("sim7600", scenario, audio="usb-pcm")


@pytest.fixture
def sysfs(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with fake_sysfs(tmp_path, "ttyUSB2") as state:
        yield state


def test_a_hung_modem_comes_back_by_usb_unbind_and_bind(run_bench: Callable[..., None], sysfs: dict[str, Any]) -> None:
    """wdoekes #48/#64, bg111 #261: a modem that only a replug helps. AT probe and AT+CFUN=1,1 get no answer;
    the rebind (the simulated modem re-enumerates when `bind` is written) does; no power control configured."""
    async def scenario(bench: Bench) -> None:
        sysfs["on_bind"] = bench.sim.power_cycle
        await bench.up()
        bench.sim.go_silent()
        for _ in range(500):
            report = bench.line.report()
            if report["recoveries"] and report["state"] == "up":
                break
            await asyncio.sleep(0.02)
        assert report["last_recovery"] == "usb" and report["state"] == "up", report
        assert (sysfs["usb_driver"] / "unbind").read_text() == "1-1.3" and sysfs["bound"] == ["1-1.3"]
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"

    run_bench("ec25", scenario, link="ttyUSB2",
              line={"power_cycle": None, "sys_tty": sysfs["sys_tty"], "usb_driver": sysfs["usb_driver"]})


def test_a_port_held_by_another_process_is_not_shared(run_bench: Callable[..., None]) -> None:
    """wdoekes #171, bg111 #82/#73/#253: two programs on one modem port. Ours opens it exclusively: a second
    line on the same port stays down saying so, and the first keeps serving calls."""
    async def scenario(bench: Bench) -> None:
        await bench.up()
        other = GsmLine("gsm1", bench.sim.port, profile="ec25", prompts=bench.appliance.prompts,
                        post=bench.loop.call_soon_threadsafe, prompt_ids=(), audio="modem-files", timings=FAST)
        other.start()
        try:
            state = await bench.loop.run_in_executor(None, other.wait_state, ("down",), 5.0)
            assert state == "down"
            assert "cannot open" in str(other.report()["last_error"])
        finally:
            other.close()
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"

    run_bench("ec25", scenario)


def test_a_call_waiting_caller_during_a_call_changes_nothing(run_bench: Callable[..., None]) -> None:
    """thess #114 (call waiting answered twice, on the analog side) and RoEdAl #16 (an odd URC ends the call):
    +CCWA, RING and +CLIP of a second caller mid-call are ignored; one call, one verdict."""
    waiting = b'\r\n+CCWA: "0987654321",129,1\r\n\r\nRING\r\n\r\n+CLIP: "0987654321",129,,,,0\r\n'

    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, f"8 {CODE}", when={"welcome": lambda: bench.sim.noise(waiting)})
        assert record.outcome == "reset" and len(readings(ear)) == 2
        assert record.caller_masked == "09******78"
        assert len(bench.appliance.journal.calls()) == 1

    run_bench("ec25", scenario)
