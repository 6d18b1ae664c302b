"""Whole calls through the real appliance (call flow, verifier, journal) and GsmLine, over a pseudo-terminal to the
ModemSimulator of each profile, in an asyncio loop at 20× speed. Each field failure of the cellular rows in
field-failures.md is one test: withheld number, caller hangs up mid-prompt, modem silent mid-call, garbage,
an SMS or network notice mid-call, a reset that loses the DTMF setting, a vanished port.
"""
from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.clock import AsyncioScheduler
from drivers.gsm import GsmLine, GsmTimings, ModemSimulator
from drivers.simcaller import ScriptedCaller, parse_keys
from firmware.appliance import Appliance, Switchboard
from firmware.call_session import ThreadChecker
from firmware.callflow import PLAYABLE
from firmware.config import Config
from firmware.journal import CallRecord
from firmware.notices import NoticeSettings
from provisioning.demo import Transcript

CALLER, CODE = "0912345678", "0123456789"  # the first row of examples/accounts.csv
SPEED = 20.0
FAST = GsmTimings(
    command_s=0.5, probe_s=0.3, answer_s=2.0, settle_s=0.01, keepalive_s=0.5, in_call_keepalive_s=0.3,
    status_s=30.0, reboot_s=1.0, port_return_s=0.5, down_retry_s=0.5, stable_s=1.0,
).at_speed(SPEED)
CALL_S = 20.0  # real seconds a test waits for one call at most


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
    """Appliance + Switchboard + GsmLine + ModemSimulator on one asyncio loop, as the daemon will wire them."""

    def __init__(self, profile: str, state_dir: Path, tmp: Path, *, audio: str = "modem-files",
                 sim: dict[str, Any] | None = None, line: dict[str, Any] | None = None,
                 notices: NoticeSettings = NoticeSettings(), link: str = "modem") -> None:
        self.loop = asyncio.get_running_loop()
        self.appliance = Appliance(Config(), state_dir, notices=notices)
        self.scheduler = AsyncioScheduler(self.loop, SPEED)
        self.checker = ThreadChecker(self.appliance.verifier.check, self.loop.call_soon_threadsafe)
        self.sim = ModemSimulator(profile, speed=SPEED, post=self.loop.call_soon_threadsafe, link=tmp / link,
                                  audio=audio == "usb-pcm", prompts=self.appliance.prompts, prompt_ids=PLAYABLE,
                                  **(sim or {}))
        self.sim.start()
        options: dict[str, Any] = {"power_cycle": self.sim.power_cycle, "timings": FAST, **(line or {})}
        self.line = GsmLine("gsm0", self.sim.port, profile=profile, prompts=self.appliance.prompts,
                            post=self.loop.call_soon_threadsafe, prompt_ids=PLAYABLE, audio=audio,
                            audio_port=self.sim.audio_port, **options)
        self.records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self.caller: ScriptedCaller | None = None
        journal_call = self.appliance.journal.record_call

        def record(rec: CallRecord) -> None:
            journal_call(rec)
            self.records.put_nowait(rec)

        self.appliance.journal.record_call = record  # type: ignore[method-assign]
        self.line.attach(Switchboard(self.appliance, self.line, self.scheduler, self.checker))
        self.line.start()

    async def up(self, timeout: float = 10.0) -> dict[str, Any]:
        state = await self.loop.run_in_executor(None, self.line.wait_state, ("up", "down"), timeout)
        assert state == "up", self.line.report()
        return self.line.report()

    async def call(self, caller: str | None, keys: str = "", *, hangup_at: float | None = None,
                   when: dict[str, Callable[[], None]] | None = None) -> tuple[Ear, CallRecord]:
        ear = Ear(self, when or {})
        ended = self.loop.create_future()
        ear.on_end = lambda: ended.done() or ended.set_result(None)
        self.caller = ScriptedCaller(self.sim, self.scheduler, parse_keys(keys), ear, barge_in=True,
                                     hangup_at=hangup_at)
        self.caller.call(caller)
        record = await asyncio.wait_for(self.records.get(), CALL_S)
        await asyncio.wait_for(ended, CALL_S)
        return ear, record

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


# -- a whole reset call per profile ------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["ec25", "sim7600", "sim800"])
def test_reset_call_hears_the_password_twice(profile: str, run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        report = await bench.up()
        assert report["files"]["uploaded"] == len(PLAYABLE) and not report["faults"]
        ear, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset" and record.caller_masked == "09******78"
        heard = readings(ear)
        assert len(heard) == 2 and heard[0] == heard[1] and len(heard[0]) == 8, ear.heard_ids
        assert ear.heard_ids[-2:] == ["change_password", "goodbye"]
        assert bench.appliance.journal.calls()[0]["outcome"] == "reset"

    run_bench(profile, scenario)


def test_reset_call_over_usb_pcm(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"
        heard = readings(ear)
        assert len(heard) == 2 and heard[0] == heard[1] and len(heard[0]) == 8, ear.heard_ids
        commands = bench.sim.commands
        switched_on = commands.index("AT+QPCMV=1,0")  # after ATA, off again after the hang-up
        assert commands[switched_on - 1] == "ATA" and "AT+QPCMV=0" in commands[switched_on:]

    run_bench("ec25", scenario, audio="usb-pcm")


# -- field failures ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["ec25", "sim7600"])
def test_withheld_number_hears_why_and_is_hung_up(profile: str, run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(None)
        assert record.outcome == "no_caller_id" and record.caller_masked == "anonymous"
        assert ear.heard_ids == ["no_caller_id"]

    run_bench(profile, scenario)


def test_caller_hangs_up_mid_prompt(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, "", when={"welcome": lambda: bench.caller.hang_up()})
        assert record.outcome == "caller_hangup"
        assert ear.heard_ids == ["welcome"]
        assert bench.line.report()["state"] == "up"

    run_bench("sim7600", scenario)


def test_modem_silent_mid_call_ends_the_call_and_the_line_comes_back(
    run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, f"8 {CODE}", when={"welcome": bench.sim.go_silent})
        assert record.outcome == "caller_hangup"  # journaled as the far end gone
        report = await bench.up()
        assert report["recoveries"] == 1 and "no reply" in report["last_error"]
        assert report["last_recovery"] == "power"  # probe, AT+CFUN=1,1 and USB rebind (not a USB tty) came first
        ear, record = await bench.call(None)
        assert record.outcome == "no_caller_id"

    run_bench("ec25", scenario)


def test_modem_answering_garbage_is_recovered(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, f"8 {CODE}", when={"welcome": bench.sim.answer_garbage})
        assert record.outcome == "caller_hangup"
        report = await bench.up()
        assert report["recoveries"] == 1 and report["last_recovery"] == "power"
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"

    run_bench("ec25", scenario)


@pytest.mark.parametrize("profile", ["ec25", "sim7600"])
def test_sms_notice_noise_and_network_notice_mid_call_do_not_end_it(
    profile: str, run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()

        def disturb() -> None:
            bench.sim.sms_arrives(3)
            bench.sim.network_notice()
            bench.sim.noise()
            bench.sim.network_notice("+QIND: garbled,,\"")

        ear, record = await bench.call(CALLER, f"8 {CODE}", when={"welcome": disturb, "new_password": disturb})
        assert record.outcome == "reset"
        assert len(readings(ear)) == 2
        assert bench.line.report()["recoveries"] == 0

    run_bench(profile, scenario)


@pytest.mark.parametrize(("profile", "announce", "dtmf"), [
    ("ec25", False, "AT+QTONEDET=1"), ("sim800", True, "AT+DDET=1,0,0"),
])
def test_reset_that_loses_the_dtmf_setting_is_noticed_and_the_setting_sent_again(
    profile: str, announce: bool, dtmf: str, run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        assert bench.sim.commands.count(dtmf) == 1
        bench.sim.lose_settings(announce=announce)
        restored = await bench.loop.run_in_executor(None, bench.line.wait_report,
                                                    lambda report: report["settings_restored"] >= 1, 5.0)
        assert restored and bench.sim.commands.count(dtmf) >= 2
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"

    run_bench(profile, scenario)


def test_duplicate_key_reports_count_once(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.duplicate_keys()
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"  # "88" or "00…" would have made the code invalid

    run_bench("sim7600", scenario)


def test_vanished_port_is_found_again_under_its_name(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.vanish(reappear_after=2.0)
        await bench.loop.run_in_executor(None, bench.line.wait_state, ("recovering", "down"), 5.0)
        report = await bench.up()
        assert report["recoveries"] == 1 and report["files"]["kept"] == len(PLAYABLE)
        _, record = await bench.call(None)
        assert record.outcome == "no_caller_id"

    run_bench("ec25", scenario)


# -- usb-pcm: keys in-band too ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["ec25", "sim7600"])
def test_usb_pcm_keys_arrive_by_audio_alone_when_the_carrier_drops_the_reports(
    profile: str, run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        ear, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset", ear.heard_ids
        assert len(readings(ear)) == 2

    run_bench(profile, scenario, audio="usb-pcm", sim={"dtmf_reports": False})


def test_without_the_reports_and_without_audio_no_key_arrives(run_bench: Callable[..., None]) -> None:
    """The control for the test above: on modem-files the same carrier fault leaves the box deaf to keys."""
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "timeout"

    run_bench("ec25", scenario, sim={"dtmf_reports": False})


def test_usb_pcm_keys_reported_by_the_modem_and_heard_in_band_count_once(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.duplicate_keys()  # every press: two modem reports and the tones
        ear, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset", ear.heard_ids  # one extra key would have made the code wrong
        assert ear.heard_ids.count("invalid_code") == 0

    run_bench("ec25", scenario, audio="usb-pcm")
