"""Prints how long each kind of call lasts with the shipped prompt files: `.venv/bin/python bench/call_time.py`.

Runs the real call flow and simulated line in simulated time with a scripted caller (1 key/s after the box falls
silent, as `resetline demo`); only the verdict is fixed, so every outcome and password shape can be timed.
"""
from __future__ import annotations

from collections.abc import Iterable

from drivers.clock import VirtualScheduler
from drivers.simcaller import ScriptedCaller, parse_keys
from drivers.simline import SimulatedLine
from firmware import password as pw
from firmware.call_session import CallSession, InlineChecker
from firmware.callflow import CheckDone, Verdict
from voice_prompts.catalog import PromptCatalog

PROMPTS = PromptCatalog.load()


class _Quiet:
    def heard(self, t: float, prompt_id: str) -> None: ...
    def pressed(self, t: float, key: str) -> None: ...
    def ended(self, t: float, by_caller: bool) -> None: ...


def call_time(keys: str, verdict: CheckDone, caller: str | None = "0912345678", barge_in: bool = False) -> float:
    scheduler = VirtualScheduler()
    line = SimulatedLine("bench", scheduler, PROMPTS)
    checker = InlineChecker(lambda caller, code, ref: verdict)
    sessions: list[CallSession] = []

    def sink(event: object) -> None:
        if not sessions:
            sessions.append(CallSession(event.call_id, line, scheduler, checker, lambda record: None))  # type: ignore[attr-defined]
        sessions[0].handle(event)  # type: ignore[arg-type]

    line.attach(sink)
    ScriptedCaller(line, scheduler, parse_keys(keys), _Quiet(), barge_in=barge_in).call(caller)
    scheduler.run()
    assert sessions[0].duration_s is not None
    return sessions[0].duration_s


def reading_time(password: str) -> float:
    return sum(PROMPTS.duration(unit) for unit in pw.spoken(password))


def all_shapes() -> Iterable[str]:
    """The slowest and fastest password of the scheme are built from the longest/shortest units."""
    digits = sorted(pw.DIGITS, key=lambda d: PROMPTS.duration(pw.UNIT_IDS[d]))
    letters = sorted(pw.LETTERS, key=lambda c: PROMPTS.duration(pw.UNIT_IDS[c]))
    yield letters[0] + digits[0] * 7
    yield letters[-1] * 3 + digits[-1] * 5


def main() -> None:
    code = "8 0123456789"
    fastest, slowest = all_shapes()
    rows = [
        ("reset, typical password 4h7k2905", call_time(code, CheckDone(Verdict.RESET, "4h7k2905"))),
        (f"reset, fastest password {fastest}", call_time(code, CheckDone(Verdict.RESET, fastest))),
        (f"reset, slowest password {slowest}", call_time(code, CheckDone(Verdict.RESET, slowest))),
        ("reset, caller barges in", call_time(code, CheckDone(Verdict.RESET, "4h7k2905"), barge_in=True)),
        ("mismatch", call_time(code, CheckDone(Verdict.MISMATCH))),
        ("locked", call_time(code, CheckDone(Verdict.LOCKED))),
        ("error (outbox failed)", call_time(code, CheckDone(Verdict.ERROR))),
        ("invalid code three times", call_time("8 123# 45# 6#", CheckDone(Verdict.MISMATCH))),
        ("no key at all (timeout)", call_time("", CheckDone(Verdict.MISMATCH))),
        ("withheld number", call_time(code, CheckDone(Verdict.MISMATCH), caller=None)),
    ]
    print(f"{'call':44} {'duration s':>10}")
    for name, seconds in rows:
        print(f"{name:44} {seconds:10.2f}")
    print(f"\none reading: 4h7k2905 {reading_time('4h7k2905'):.2f} s, fastest {reading_time(fastest):.2f} s, "
          f"slowest {reading_time(slowest):.2f} s")


if __name__ == "__main__":
    main()
