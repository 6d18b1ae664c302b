"""V.253 recovery over the pty (issue 6, field failures: a stick that hangs or vanishes from USB; caller ID lost
after a reset): the shared ladder re-opens the port by its configured name, sends ATZ, rebinds the USB device
through (a fake) sysfs and calls the power-cycle hook; the call in progress ends in the journal, the line comes
back alone with caller ID on again, and the next call works."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.v253 import V253Simulator, V253Timings
from firmware.config import V253LineConfig, parse
from fake_sysfs import fake_sysfs
from test_v253_calls import CALLER, KEYS, SPEED, Bench, run_bench  # noqa: F401  (run_bench is a fixture)

RECOVERY = V253Timings(command_s=0.5, probe_s=0.3, connect_s=1.0, stream_idle_s=0.5, port_return_s=0.3,
                       reboot_s=1.0, keepalive_s=0.2, down_retry_s=0.5).at_speed(SPEED)
CALLER_ID_ON = "+VCID=1"


async def recovered(bench: Bench, recoveries: int = 1, timeout: float = 10.0) -> dict[str, Any]:
    for _ in range(int(timeout / 0.02)):
        report = bench.line.report()
        if report["recoveries"] >= recoveries and report["state"] == "up":
            return report
        await asyncio.sleep(0.02)
    raise AssertionError(bench.line.report())


def caller_id_after_last_reset(commands: list[str]) -> bool:
    last_reset = max(i for i, c in enumerate(commands) if c == "ATZ")
    return any(CALLER_ID_ON in c for c in commands[last_reset:])  # also Conexant's AT-SCID=1;+VCID=1;-STE=7


def test_a_hung_stick_mid_call_is_power_cycled_by_the_hook_and_comes_back_alone(
    run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, "", when={"welcome": bench.sim.go_silent}, wait_end=False)
        assert record.outcome == "caller_hangup"  # the call ends in the journal
        report = await recovered(bench)  # nobody touches the simulator: the line's own hook does
        assert report["last_recovery"] == "power" and not report["faults"]
        assert caller_id_after_last_reset(bench.sim.commands)
        _, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"
        assert [c["outcome"] for c in bench.appliance.journal.calls()] == ["reset", "caller_hangup"]

    run_bench("generic", scenario, timings=RECOVERY, line=lambda sim: {"power_cycle": sim.power_cycle})


def test_a_vanished_port_is_reopened_under_its_configured_name(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        before = len(bench.sim.commands)
        bench.sim.vanish(reappear_after=10.0)  # line seconds: the pty is closed and a new one linked later
        report = await recovered(bench)
        assert report["last_recovery"] in ("probe", "reset") and report["port"].endswith("/modem")
        assert caller_id_after_last_reset(bench.sim.commands[before:])
        _, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"

    run_bench("cx93010", scenario, timings=RECOVERY)


def test_without_any_rung_left_the_line_is_down_then_comes_back_when_the_stick_does(
    run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.go_silent()
        state = await bench.loop.run_in_executor(None, bench.line.wait_state, ("down",), 10.0)
        assert state == "down" and bench.line.report()["last_recovery"] == "failed"
        assert "recovery failed after every rung" in bench.line.report()["last_error"]
        bench.sim.power_cycle()  # a technician replugs it
        report = await recovered(bench)
        assert caller_id_after_last_reset(bench.sim.commands)
        assert report["state"] == "up"

    run_bench("usr5637", scenario, timings=RECOVERY)


@pytest.fixture
def sysfs(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with fake_sysfs(tmp_path, "ttyACM7") as state:
        yield state


def test_usb_unbind_and_bind_through_sysfs_brings_a_hung_stick_back(
    run_bench: Callable[..., None], sysfs: dict[str, Any],
) -> None:
    async def scenario(bench: Bench) -> None:
        sysfs["on_bind"] = bench.sim.power_cycle
        await bench.up()
        bench.sim.go_silent()  # ATZ cannot help: only the USB rebind (or a power cut) does
        report = await recovered(bench)
        assert report["last_recovery"] == "usb"
        assert (sysfs["usb_driver"] / "unbind").read_text() == "1-1.3" and sysfs["bound"] == ["1-1.3"]
        assert caller_id_after_last_reset(bench.sim.commands)
        _, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"

    def line(sim: V253Simulator) -> dict[str, Any]:
        return {"sys_tty": sysfs["sys_tty"], "usb_driver": sysfs["usb_driver"]}

    run_bench("generic", scenario, timings=RECOVERY, link="ttyACM7", line=line)


# -- the busy-tone cadence from the configuration -----------------------------------------------------------------------
@pytest.mark.parametrize("configured, recognised", [((480.0, 0.25, 0.25), True), ((425.0, 0.5, 0.5), False)])
def test_the_configured_busy_cadence_is_what_ends_the_call(
    configured: tuple[float, float, float], recognised: bool, run_bench: Callable[..., None],
) -> None:
    """The exchange plays 480 Hz 0.25/0.25 s (a cadence other than the default) and the stick reports nothing
    (generic): the call ends on our cadence detector only when the TOML says that cadence."""
    hz, on, off = configured
    (pots,) = parse({"line": [{"name": "v0", "kind": "v253", "port": "x", "busy_hz": hz, "busy_on_s": on,
                               "busy_off_s": off}]}).lines
    assert isinstance(pots, V253LineConfig)
    timings = V253Timings(**pots.tone_settings(), command_s=1.0, probe_s=0.5, connect_s=1.0,
                          stream_idle_s=0.5, silence_s=4.0).at_speed(SPEED)

    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, "", when={"welcome": bench.hang_up})
        reasons = list(bench.line.report()["hangups"])
        if recognised:
            assert record.outcome == "caller_hangup" and reasons == ["busy tone"]
        else:  # the box went on talking to an empty line until the menu timed out
            assert record.outcome == "timeout" and not any(r.startswith("busy tone") for r in reasons), reasons

    run_bench("generic", scenario, timings=timings, sim={"busy": (480.0, 0.25, 0.25)})
