"""`resetline demo`: one whole call through the real call flow, verifier and journal, on a simulated line.

With `--keys` the call runs in simulated time: every `t` is computed from the real prompt audio durations, nothing
sleeps. Without `--keys` a person at the terminal is the caller, in real time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from drivers import DriverError
from drivers.clock import AsyncioScheduler, VirtualScheduler
from drivers.simcaller import KeyStep, ScriptedCaller, parse_keys
from drivers.simline import SimulatedLine
from firmware import FirmwareError
from firmware import config as configuration
from firmware.appliance import Appliance, Switchboard, snapshot_path
from firmware.call_session import CallSession, InlineChecker, ThreadChecker
from firmware.phone import mask_phone
from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog

from . import ProvisioningError
from .demo_lines import LINES, PROFILES, open_rig, wait_ready
from .snapshot_import import import_csv

#: a simulated modem runs in real time; with --keys the demo runs it this many times faster
REAL_LINE_SPEED = 10.0
SAMPLE_ACCOUNTS = Path(__file__).resolve().parent.parent / "examples" / "accounts.csv"
DEFAULT_CALLER = "0912345678"
UNIT_SETS = ("units",)
SILENT_SETS = ("pause",)


class Transcript:
    """What the caller heard and pressed, printed as it happens (JSON lines or a readable transcript)."""

    def __init__(
        self, prompts: PromptCatalog, out: TextIO, as_json: bool, on_end: Callable[[], object] | None = None
    ) -> None:
        self._prompts = prompts
        self._out = out
        self._json = as_json
        self.on_end = on_end
        self.readings: list[str] = []
        self.keys = ""
        self.ended_at: float | None = None

    def heard(self, t: float, prompt_id: str) -> None:
        prompt = self._prompts.prompt(prompt_id)
        if prompt.set in SILENT_SETS:
            return
        if prompt_id in ("new_password", "repeat"):
            self.readings.append("")
        elif prompt.set in UNIT_SETS and self.readings:
            self.readings[-1] += prompt.display
        self._emit({"t": round(t, 2), "say": prompt_id, "text": prompt.display}, f"{t:7.2f}  box  {prompt.display}")

    def pressed(self, t: float, key: str) -> None:
        self.keys += key
        self._emit({"t": round(t, 2), "key": key}, f"{t:7.2f}  key  {key}")

    def ended(self, t: float, by_caller: bool) -> None:
        self.ended_at = t
        if self.on_end is not None:
            self.on_end()

    def summary(self, session: CallSession, caller: str | None) -> None:
        outcome = session.outcome.value if session.outcome else "unfinished"
        record: dict[str, Any] = {
            "outcome": outcome,
            "duration_s": session.duration_s,
            "caller": mask_phone(caller),
            "keys": self.keys,
            "call_ref": session.call_ref,
        }
        if self.readings:
            record["password_heard"] = self.readings
            record["readings_agree"] = len(set(self.readings)) == 1
        text = f"outcome {outcome} after {session.duration_s} s (caller {record['caller']})"
        if self.readings:
            text += f"; password heard: {' / '.join(self.readings)}"
        self._emit(record, text)

    def _emit(self, record: dict[str, Any], text: str) -> None:
        print(json.dumps(record, ensure_ascii=False) if self._json else text, file=self._out, flush=True)


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("demo", help="one whole call on a simulated line or modem", description=__doc__)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--caller", default=DEFAULT_CALLER, help="calling number; 'anonymous' = withheld")
    parser.add_argument("--keys", help="keys the caller presses: 0-9 * #, spaces ignored, ',' waits 1 s more")
    parser.add_argument("--barge-in", action="store_true", help="the caller does not wait for prompts to end")
    parser.add_argument("--hangup-at", type=float, metavar="SECONDS", help="the caller hangs up at this time")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--accounts", type=Path, metavar="CSV", help="bhxh_code,phone[,account_ref] rows")
    source.add_argument("--state-dir", type=Path, help="use this box state (its snapshot and journal)")
    parser.add_argument("--config", type=Path, help="box configuration (TOML) for timings and lockout")
    parser.add_argument("--speed", type=float, help="run in real time, this many times faster (default with --keys: "
                        f"simulated time on --line sim, {REAL_LINE_SPEED:g}x on a simulated modem)")
    parser.add_argument("--line", choices=LINES, default="sim",
                        help="sim: the simulated line; gsm-sim / v253-sim: our GSM / V.253 driver over a pty to a "
                        "modem simulator")
    parser.add_argument("--profile", choices=PROFILES,
                        help="the modem simulator's profile (gsm-sim: ec25, sim7600, sim800; "
                        "v253-sim: generic, usr5637, cx93010)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        steps = parse_keys(args.keys) if args.keys is not None else None
        config = configuration.load(args.config) if args.config else configuration.Config()
        with ExitStack() as stack:
            state_dir = args.state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="resetline-demo-")))
            if args.accounts or not snapshot_path(state_dir).exists():
                if args.state_dir and not args.accounts:
                    raise ProvisioningError(f"{state_dir} has no snapshot; import one or pass --accounts")
                import_csv(args.accounts or SAMPLE_ACCOUNTS, state_dir)
            appliance = Appliance(config, state_dir)
            stack.callback(appliance.close)
            caller = None if args.caller.strip().lower() in ("anonymous", "") else args.caller
            transcript = Transcript(appliance.prompts, sys.stdout, args.json)
            if steps is not None and args.speed is None and args.line == "sim":
                session = _simulated_call(appliance, transcript, caller, steps, args)
            else:
                session = asyncio.run(_real_time_call(appliance, transcript, caller, steps, args))
            transcript.summary(session, caller)
        return 0
    except (FirmwareError, ProvisioningError, DriverError, PromptError) as exc:
        print(f"resetline demo: {exc}", file=sys.stderr)
        return 1


def _simulated_call(
    appliance: Appliance, transcript: Transcript, caller: str | None, steps: list[KeyStep], args: argparse.Namespace
) -> CallSession:
    scheduler = VirtualScheduler()
    line = SimulatedLine("sim0", scheduler, appliance.prompts)
    sessions: list[CallSession] = []
    line.attach(Switchboard(appliance, line, scheduler, InlineChecker(appliance.verifier.check), sessions.append))
    ScriptedCaller(line, scheduler, steps, transcript, barge_in=args.barge_in, hangup_at=args.hangup_at).call(caller)
    scheduler.run()
    return sessions[0]


async def _real_time_call(
    appliance: Appliance, transcript: Transcript, caller: str | None, steps: list[KeyStep] | None, args: argparse.Namespace
) -> CallSession:
    loop = asyncio.get_running_loop()
    speed = args.speed or (REAL_LINE_SPEED if args.line != "sim" and steps is not None else 1.0)
    scheduler = AsyncioScheduler(loop, speed)
    checker = ThreadChecker(appliance.verifier.check, loop.call_soon_threadsafe)
    ended = asyncio.Event()
    transcript.on_end = lambda: loop.call_soon(ended.set)
    sessions: list[CallSession] = []
    with ExitStack() as stack:
        stack.callback(checker.close)
        rig = open_rig(args.line, appliance, scheduler, loop.call_soon_threadsafe, stack,
                             speed=speed, profile=args.profile)
        rig.line.attach(Switchboard(appliance, rig.line, scheduler, checker, sessions.append))
        rig.line.start()
        await wait_ready(rig.line)
        far = ScriptedCaller(rig.telephone, scheduler, steps or [], transcript,
                             barge_in=args.barge_in, hangup_at=args.hangup_at)
        far.call(caller)
        if steps is None:
            _read_keys_from_terminal(loop, far)
        await ended.wait()
        for _ in range(500):  # a real line reports the hang-up a moment after the caller heard it
            if sessions and sessions[0].duration_s is not None:
                break
            await asyncio.sleep(0.01)
    if not sessions:
        raise ProvisioningError("the line never delivered the call to the box")
    return sessions[0]


def _read_keys_from_terminal(loop: asyncio.AbstractEventLoop, far: ScriptedCaller) -> None:
    print("Keys: 0-9 * #  ·  q hangs up", file=sys.stderr)

    def reader() -> None:
        with _cbreak(sys.stdin):
            while far.connected:
                ch = sys.stdin.read(1)
                if ch == "":
                    return  # end of input: the caller stays on the line until the box hangs up
                if ch in "qQ":
                    loop.call_soon_threadsafe(far.hang_up)
                    return
                if ch in "0123456789*#":
                    loop.call_soon_threadsafe(far.press, ch)

    threading.Thread(target=reader, name="terminal-keys", daemon=True).start()


class _cbreak:
    """Keys without Enter on a terminal; a pipe is read as it is."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._saved: Any = None

    def __enter__(self) -> None:
        if self._stream.isatty():
            import termios
            import tty

            self._saved = termios.tcgetattr(self._stream)
            tty.setcbreak(self._stream)

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._stream, termios.TCSADRAIN, self._saved)

