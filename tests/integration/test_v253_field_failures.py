"""The analog rows of field-failures.md that test_v253_calls.py and test_v253_recovery.py do not already cover,
each over the pty: a malformed caller-ID date (thess #107, #78), a call-waiting signal during a call
(thess #114), a stick that cannot go off-hook (thess #11)."""
from __future__ import annotations

from collections.abc import Callable

from drivers.line import IncomingCall
from drivers.v253 import V253Timings
from test_v253_calls import CALLER, KEYS, SPEED, Bench, readings, run_bench  # noqa: F401  (run_bench is a fixture)

DLE = b"\x10"


def test_a_malformed_caller_id_date_neither_crashes_nor_loses_the_number(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset" and record.caller_masked == "09******78"
        assert len(readings(ear)) == 2

    run_bench("usr5637", scenario, sim={"caller_id": "garbage-date"})


def test_call_waiting_and_ring_reports_during_a_call_change_nothing(run_bench: Callable[..., None]) -> None:
    """A second caller rings while the line is busy (`<DLE>w` call waiting, `<DLE>R` ring in voice mode):
    one call state machine per line, so nothing is answered twice and the call goes on to its verdict."""
    async def scenario(bench: Bench) -> None:
        await bench.up()
        waiting = DLE + b"w" + DLE + b"R"
        ear, record = await bench.call(CALLER, KEYS, when={"welcome": lambda: bench.sim.noise(waiting)})
        assert record.outcome == "reset" and len(readings(ear)) == 2
        assert sum(isinstance(e, IncomingCall) for e in bench.events) == 1

    run_bench("generic", scenario, dtmf="detector")


def test_a_stick_that_cannot_go_off_hook_ends_that_call_and_takes_the_next(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.refuse_off_hook(1)
        _, record = await bench.call(CALLER, KEYS, wait_end=False)
        assert record.outcome == "caller_hangup"  # the box never got the line: journalled, not lost
        report = bench.line.report()
        assert report["last_error"].startswith("answering failed: AT+VLS=1: ERROR"), report
        assert report["hangups"] == {"answer failed": 1}
        bench.hang_up()  # the caller heard only ringing and gives up
        await bench.on_hook_again()
        ear, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"

    run_bench("generic", scenario, timings=V253Timings(command_s=1.0, probe_s=0.5, connect_s=1.0,
                                                        stream_idle_s=0.5, port_return_s=0.3,
                                                        down_retry_s=0.5).at_speed(SPEED))
