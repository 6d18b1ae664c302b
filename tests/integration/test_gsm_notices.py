"""The post-reset SMS notice end to end: a reset call over the pty to the ModemSimulator, then the SMS the line
sends once the call is over (Vietnamese text, UCS2 on the wire, number too), a network refusal retried from the
journal, and a notice left by a power cut handed to central sealed, with the number nowhere at rest."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.gsm.sms import ucs2
from firmware.appliance import Appliance
from firmware.config import Config
from firmware.keys import load_central_private_key
from firmware.notices import NoticeSettings, notice_text
from firmware.sealing import unseal
from test_gsm_calls import CALLER, CODE, Bench, run_bench  # noqa: F401  (run_bench is a fixture)

FAST_NOTICES = NoticeSettings(retry_s=0.3, max_retry_s=1.0, max_attempts=3, poll_s=0.05)
PATIENT = NoticeSettings(retry_s=600.0, max_retry_s=600.0, max_attempts=3, poll_s=0.05)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def at_rest(state_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state_dir.rglob("journal.db*"))


def test_after_a_reset_the_caller_gets_the_notice_in_ucs2_once_the_call_is_over(
    run_bench: Callable[..., None],
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        started = time.time()
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"
        await until(lambda: bool(bench.sim.sms_sent))
        ((number, text),) = bench.sim.sms_sent
        assert number == CALLER and text.startswith("Mật khẩu VssID đã cấp lại qua ĐT ")
        assert text.endswith(". Không phải bạn? Gọi BHXH") and len(text) <= 70
        assert text in (notice_text(started), notice_text(time.time()))  # the time of the reset, Vietnam time
        ((wire_number, wire_text),) = bench.sim.sms_wire
        assert wire_number == ucs2(CALLER) == "0030003900310032003300340035003600370038"
        assert wire_text == ucs2(text).encode("ascii")
        commands = bench.sim.commands
        assert commands.index("AT+CHUP") < next(i for i, c in enumerate(commands) if c.startswith("AT+CMGS"))
        await until(lambda: not bench.appliance.journal.notices())
        assert len(bench.appliance.journal.pending_resets()) == 1  # the reset only: nothing handed over

    run_bench("ec25", scenario, line={"sms_notice": True}, notices=FAST_NOTICES)


def test_a_refused_sms_is_retried_from_the_journal_and_the_number_is_never_at_rest(
    run_bench: Callable[..., None], state_dir: Path,
) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.fail_sms(1)
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"
        await until(lambda: any(n.attempts == 1 for n in bench.appliance.journal.notices()))
        stored = at_rest(state_dir)  # the notice waits for its retry: its number is in the file, encrypted
        for form in (CALLER, CALLER[1:], ucs2(CALLER)):
            assert form.encode() not in stored
        await until(lambda: bool(bench.sim.sms_sent))
        assert len(bench.sim.sms_wire) == 2 and bench.sim.sms_sent[0][0] == CALLER
        await until(lambda: not bench.appliance.journal.notices())

    run_bench("sim7600", scenario, line={"sms_notice": True}, notices=FAST_NOTICES)


def test_no_notice_when_the_line_does_not_send_them(run_bench: Callable[..., None]) -> None:
    async def scenario(bench: Bench) -> None:
        await bench.up()
        _, record = await bench.call(CALLER, f"8 {CODE}")
        assert record.outcome == "reset"
        await asyncio.sleep(0.5)
        assert bench.sim.sms_sent == [] and bench.appliance.journal.notices() == []

    run_bench("ec25", scenario, notices=FAST_NOTICES)


def test_a_notice_cut_off_by_a_power_cut_is_handed_to_central_after_the_reboot(
    run_bench: Callable[..., None], state_dir: Path,
) -> None:
    refs: list[str] = []

    async def scenario(bench: Bench) -> None:
        await bench.up()
        bench.sim.fail_sms(100)  # the network refuses; the next try is 10 minutes away when the power goes
        _, record = await bench.call(CALLER, f"8 {CODE}")
        refs.append(record.call_ref)
        await until(lambda: any(n.attempts == 1 for n in bench.appliance.journal.notices()))

    run_bench("ec25", scenario, line={"sms_notice": True}, notices=PATIENT)
    appliance = Appliance(Config(), state_dir, notices=FAST_NOTICES)  # the next boot: the old key is gone
    try:
        appliance.notices.start()
        deadline = time.monotonic() + 5
        while appliance.journal.notices() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert appliance.journal.notices() == []
        central = load_central_private_key(state_dir / "keys" / "dev-central.key")
        events = [unseal(central, blob) for _, blob in appliance.journal.pending_resets()]
    finally:
        appliance.close()
    reset, failed = events
    assert reset["kind"] == "reset" and reset["call_ref"] == refs[0] and reset["phone"] == "+84912345678"
    assert failed["kind"] == "sms_notice_failed" and failed["call_ref"] == refs[0]
    assert failed["reason"] == "key_lost" and failed["attempts"] == 1 and "phone" not in failed
