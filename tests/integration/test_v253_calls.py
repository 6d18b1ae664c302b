"""Whole calls through the real appliance (call flow, verifier, journal) and V253Line, over a pseudo-terminal to
the V253Simulator of each profile, in an asyncio loop at 20× speed (the audio too: the driver paces 160 000
samples/s). Each analog row of field-failures.md is a test: caller ID between the rings, withheld, none at all,
lost after a reset; the caller hanging up (busy tone, loop drop, or just silence); a stick that goes silent.
"""
from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.clock import AsyncioScheduler
from drivers.line import KeyPressed, LineEvent
from drivers.simcaller import ScriptedCaller, parse_keys
from drivers.v253 import V253Line, V253Simulator, V253Timings
from firmware.appliance import Appliance, Switchboard
from firmware.call_session import ThreadChecker
from firmware.callflow import PLAYABLE
from firmware.config import Config
from firmware.journal import CallRecord
from provisioning.demo import Transcript

CALLER, CODE = "0912345678", "0123456789"  # the first row of examples/accounts.csv
SPEED = 20.0
FAST = V253Timings(command_s=1.0, probe_s=0.5, connect_s=1.0, stream_idle_s=0.5, port_return_s=0.3,
                   down_retry_s=0.5).at_speed(SPEED)
CALL_S = 20.0  # real seconds a test waits for one call at most
#: the caller waits for the answer (caller ID 1 s after the first RING, the receive state open at about 2 s)
KEYS = f",,, 8 {CODE}"


class Ear(Transcript):
    """The demo's transcript, plus actions to take the first time a prompt is heard."""

    def __init__(self, bench: Bench, when: dict[str, Callable[[], None]]) -> None:
        super().__init__(bench.appliance.prompts, io.StringIO(), as_json=True)
        self.heard_ids: list[str] = []
        self._when = dict(when)

    def heard(self, t: float, prompt_id: str) -> None:
        self.heard_ids.append(prompt_id)
        super().heard(t, prompt_id)
        action = self._when.pop(prompt_id, None)
        if action is not None:
            action()


class Bench:
    """Appliance + Switchboard + V253Line + V253Simulator on one asyncio loop, as the daemon will wire them."""

    def __init__(self, profile: str, state_dir: Path, tmp: Path, *, dtmf: str = "modem",
                 sim: dict[str, Any] | None = None, timings: V253Timings = FAST, link: str = "modem",
                 line: Callable[[V253Simulator], dict[str, Any]] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.appliance = Appliance(Config(), state_dir)
        self.scheduler = AsyncioScheduler(self.loop, SPEED)
        self.checker = ThreadChecker(self.appliance.verifier.check, self.loop.call_soon_threadsafe)
        self.sim = V253Simulator(profile, speed=SPEED, post=self.loop.call_soon_threadsafe, link=tmp / link,
                                 prompts=self.appliance.prompts, prompt_ids=PLAYABLE, **(sim or {}))
        self.sim.start()
        self.line = V253Line("v0", self.sim.port, prompts=self.appliance.prompts,
                             post=self.loop.call_soon_threadsafe, profile=profile, dtmf=dtmf, timings=timings,
                             **(line(self.sim) if line else {}))
        self.records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self.events: list[LineEvent] = []
        self.caller: ScriptedCaller | None = None
        journal_call = self.appliance.journal.record_call

        def record(rec: CallRecord) -> None:
            journal_call(rec)
            self.records.put_nowait(rec)

        self.appliance.journal.record_call = record  # type: ignore[method-assign]
        board = Switchboard(self.appliance, self.line, self.scheduler, self.checker)

        def sink(event: LineEvent) -> None:
            self.events.append(event)
            board(event)

        self.line.attach(sink)
        self.line.start()

    async def up(self, timeout: float = 10.0) -> dict[str, Any]:
        state = await self.loop.run_in_executor(None, self.line.wait_state, ("up", "down"), timeout)
        assert state == "up", self.line.report()
        return self.line.report()

    async def call(self, caller: str | None, keys: str = "", *, hangup_at: float | None = None,
                   when: dict[str, Callable[[], None]] | None = None, wait_end: bool = True) -> tuple[Ear, CallRecord]:
        ear = Ear(self, when or {})
        ended: asyncio.Future[None] = self.loop.create_future()

        def on_end() -> None:
            if not ended.done():
                ended.set_result(None)

        ear.on_end = on_end
        self.caller = ScriptedCaller(self.sim, self.scheduler, parse_keys(keys), ear, barge_in=True,
                                     hangup_at=hangup_at)
        self.caller.call(caller)
        record = await asyncio.wait_for(self.records.get(), CALL_S)
        if wait_end:
            await asyncio.wait_for(ended, CALL_S)
        return ear, record

    async def on_hook_again(self) -> list[str]:
        """After a call: wait until the stick was put on-hook and caller ID turned on again."""
        for _ in range(200):
            commands = self.sim.commands
            if "ATH0" in commands and commands[-1] in ("AT+VCID=1", "AT-SCID=1;+VCID=1;-STE=7"):
                return commands
            await asyncio.sleep(0.01)
        raise AssertionError(f"never back on-hook: {self.sim.commands[-5:]}")

    def hang_up(self) -> None:
        """The caller hangs up now (from a `when` action)."""
        assert self.caller is not None
        self.caller.hang_up()

    def keys(self) -> str:
        return "".join(e.key for e in self.events if isinstance(e, KeyPressed))

    def close(self) -> None:
        self.line.close()
        self.sim.close()
        self.checker.close()
        self.appliance.close()


Scenario = Callable[[Bench], Awaitable[None]]


@pytest.fixture
def run_bench(state_dir: Path, tmp_path: Path) -> Callable[..., None]:
    """Runs one scenario on a fresh asyncio loop with its own Bench (the daemon's loop, in miniature)."""

    def run(profile: str, scenario: Scenario, **options: Any) -> None:
        async def main() -> None:
            bench = Bench(profile, state_dir, tmp_path, **options)
            try:
                await scenario(bench)
            finally:
                bench.close()

        asyncio.run(main())

    return run


def readings(ear: Ear) -> list[str]:
    return [r for r in ear.readings if r]


# -- a whole reset call ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("echo", [0.0, 0.1], ids=["no-echo", "echo-20dB"])
def test_reset_call_with_keys_heard_in_band_by_our_detector(echo: float, run_bench: Callable[..., None]) -> None:
    """The stick reports no keys at all: every digit is decoded from the received µ-law audio (full duplex),
    also with the box's own prompts coming back at -20 dB (AT+VTR has no echo canceller): no key invented."""

    async def scenario(bench: Bench) -> None:
        report = await bench.up()
        assert report["format"]["fmt"] == "ulaw" and report["duplex"] is True and not report["faults"]
        started = time.monotonic()
        ear, record = await bench.call(CALLER, KEYS)
        wall = time.monotonic() - started
        assert record.outcome == "reset" and record.caller_masked == "09******78"
        heard = readings(ear)
        assert len(heard) == 2 and heard[0] == heard[1] and len(heard[0]) == 8, ear.heard_ids
        assert ear.heard_ids[-2:] == ["change_password", "goodbye"]
        assert bench.keys() == ear.keys == "8" + CODE  # each key once, none invented
        assert bench.sim.stats["overflow_bytes"] == 0
        print(f"\nv253 reset call (echo {echo}): {record.duration_s:.1f} s call time, {wall:.2f} s wall at "
              f"{SPEED:g}x, keys {len(bench.keys())}/{len(ear.keys)}, modem buffer max "
              f"{bench.sim.stats['max_buffered_s']} s")

    run_bench("generic", scenario, dtmf="detector", sim={"dtmf_reports": False, "echo": echo})


def test_reset_call_half_duplex_with_the_modems_key_reports(run_bench: Callable[..., None]) -> None:
    """USR5637: no AT+VTR, so prompts go out in AT+VTX and the caller is heard in AT+VRX between them."""

    async def scenario(bench: Bench) -> None:
        report = await bench.up()
        assert report["duplex"] is False and report["family"] == "usr" and report["identity"]["ati0"] == "5601"
        ear, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"
        heard = readings(ear)
        assert len(heard) == 2 and heard[0] == heard[1] and len(heard[0]) == 8, ear.heard_ids
        assert bench.keys() == "8" + CODE
        commands = await bench.on_hook_again()
        assert "AT+VTX" in commands and "AT+VRX" in commands and "AT+VTR" not in commands
        assert commands[-3:] == ["ATH0", "AT+FCLASS=0", "AT+VCID=1"]  # caller ID on again after every call

    run_bench("usr5637", scenario)


def test_reset_call_conexant_framed_and_repeated_key_reports_count_once(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        report = await bench.up()
        assert report["format"]["command"] == "AT+VSM=1,8000,0,0"  # the 2-argument form is refused
        ear, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"
        assert bench.keys() == "8" + CODE

    run_bench("cx93010", scenario)


# -- caller ID -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["usr5637", "generic"])
def test_withheld_number_hears_why_and_is_hung_up(profile: str, run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(None)  # NMBR = P
        assert record.outcome == "no_caller_id" and record.caller_masked == "anonymous"
        assert ear.heard_ids == ["no_caller_id"]

    run_bench(profile, scenario)


def test_number_after_the_second_ring_is_still_taken(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, when={"welcome": bench.hang_up})
        assert record.caller_masked == "09******78" and ear.heard_ids == ["welcome"]
        assert bench.sim.commands.index("AT+VLS=1") and bench.line.report()["calls"] == 1

    run_bench("generic", scenario, sim={"cid_after_ring": 2, "caller_id": "compact"})


def test_no_caller_id_at_all_is_withheld_once_the_window_is_over(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER)
        assert record.outcome == "no_caller_id" and ear.heard_ids == ["no_caller_id"]

    run_bench("generic", scenario, sim={"caller_id": "none"})


def test_caller_id_lost_in_a_silent_reset_is_turned_on_again(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.lose_settings()
        bench.sim.noise()
        for _ in range(100):
            if bench.line.report()["settings_restored"]:
                break
            await asyncio.sleep(0.02)
        assert bench.line.report()["settings_restored"] == 1
        _, record = await bench.call(CALLER, when={"welcome": bench.hang_up})
        assert record.caller_masked == "09******78"

    run_bench("generic", scenario, timings=V253Timings(keepalive_s=0.1).at_speed(SPEED))


# -- the caller goes away ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["generic", "cx93010", "usr5637"])
def test_caller_hangs_up_mid_prompt(profile: str, run_bench: Callable[..., None]) -> None:
    """generic: the exchange's busy tone, heard by our cadence detector only; cx93010: <DLE>l at once;
    usr5637: half duplex, <DLE>b and the tone once the prompt is cut and the receive state is back."""

    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, "", when={"welcome": bench.hang_up})
        assert record.outcome == "caller_hangup" and ear.heard_ids == ["welcome"]
        report = bench.line.report()
        assert report["state"] == "up" and sum(report["hangups"].values()) == 1, report
        expected = {"generic": "busy tone", "cx93010": "loop current drop", "usr5637": "busy tone"}[profile]
        assert any(reason.startswith(expected) for reason in report["hangups"]), report["hangups"]
        assert (await bench.on_hook_again())[-3] == "ATH0"

    run_bench(profile, scenario)


def test_a_line_that_goes_silent_is_hung_up_by_the_silence_timer(run_bench: Callable[..., None]) -> None:
    """The exchange plays nothing when the caller hangs up, and the stick reports nothing: only silence."""

    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, "", when={"menu": bench.hang_up})
        assert record.outcome == "caller_hangup" and ear.heard_ids == ["welcome", "menu"]
        assert list(bench.line.report()["hangups"]) == ["silence for 4 s"]
        assert record.duration_s is not None and record.duration_s < 8 + 8  # before the flow's menu timeout

    quiet = V253Timings(command_s=1.0, silence_s=4.0).at_speed(SPEED)  # below the flow's 8 s menu timeout
    run_bench("generic", scenario, timings=quiet, sim={"exchange": "silent"})


def test_a_stick_that_goes_silent_mid_call_ends_the_call_and_comes_back(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, "", when={"welcome": bench.sim.go_silent}, wait_end=False)
        assert record.outcome == "caller_hangup"
        state = await bench.loop.run_in_executor(None, bench.line.wait_state, ("recovering", "down"), 5.0)
        assert state in ("recovering", "down")
        bench.sim.power_cycle()
        await bench.up()
        assert bench.line.report()["recoveries"] >= 1
        ear, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"

    run_bench("generic", scenario)


def test_a_vanished_port_and_garbage_replies_are_recovered_and_the_next_call_works(
    run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.vanish(reappear_after=10.0)  # line seconds: half a second of wall time
        state = await bench.loop.run_in_executor(None, bench.line.wait_state, ("recovering", "down"), 5.0)
        assert state in ("recovering", "down")
        recoveries = (await bench.up())["recoveries"]
        assert recoveries >= 1
        bench.sim.answer_garbage(1)  # the idle check gets garbage instead of its reply
        for _ in range(300):
            if bench.line.report()["recoveries"] > recoveries:
                break
            await asyncio.sleep(0.01)
        assert bench.line.report()["recoveries"] == recoveries + 1
        await bench.up()
        _, record = await bench.call(CALLER, KEYS)
        assert record.outcome == "reset"

    run_bench("usr5637", scenario, timings=V253Timings(command_s=0.5, probe_s=0.3, port_return_s=0.2,
                                                        keepalive_s=0.2).at_speed(SPEED))
