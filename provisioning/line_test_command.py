"""`resetline line test N --config FILE`: bring one configured line up on its own and report what it found.

For a technician at commissioning: a GSM line reports the modem, SIM, registration, IMS/VoLTE state, signal and
audio path; a SIP line its address and workers. Exit 0 only when the line came up without a fault.
With `--audio` a GSM line on usb-pcm then waits for a call (the technician calls it), plays a test tone and reports
whether audio came back (the tone looped back, or a key pressed on hearing it: drivers/gsm/audiocheck.py); no
audio back is a fault. Where the path cannot carry the check (modem-files, other kinds) the report says so.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from drivers import DriverError
from drivers.clock import AsyncioScheduler
from drivers.gsm import GsmLine
from drivers.line import Line, LineEvent
from drivers.sip import SipLine
from drivers.v253 import V253Line
from firmware import FirmwareError
from firmware import config as configuration
from firmware.appliance import Appliance
from firmware.daemon import make_line
from voice_prompts import PromptError

DEFAULT_TIMEOUT_S = 120.0  # first prompt uploads over a UART take time
DEFAULT_CALL_TIMEOUT_S = 120.0  # the technician's call for --audio


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("line", help="check a configured line")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = actions.add_parser("test", help="bring line N (index from 0, or its name) up and report")
    test.add_argument("line", metavar="N")
    test.add_argument("--config", type=Path, required=True)
    test.add_argument("--state-dir", type=Path, help="overrides box.state_dir")
    test.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for bring-up")
    test.add_argument("--json", action="store_true")
    test.add_argument("--audio", action="store_true",
                      help="then a two-way audio check: call the line, listen for the tone, press any key")
    test.add_argument("--call-timeout", type=float, default=DEFAULT_CALL_TIMEOUT_S,
                      help="seconds to wait for the call of --audio")
    test.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = configuration.load(args.config)
        line_config = _pick(config, args.line)
        appliance = Appliance(config, args.state_dir or config.box.state_dir)
    except (FirmwareError, PromptError, OSError) as exc:
        print(f"resetline line test: {exc}", file=sys.stderr)
        return 2
    try:
        call_timeout = args.call_timeout if args.audio else None
        report = asyncio.run(_bring_up(appliance, line_config, args.timeout, call_timeout))
    except DriverError as exc:
        report = {"line": line_config.name, "kind": line_config.kind, "state": "down", "last_error": str(exc)}
    finally:
        appliance.close()
    check = report.get("audio_check")
    healthy = (report.get("state") == "up" and not report.get("faults")
               and (check is None or not check.get("available") or bool(check.get("audio_back"))))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        for key, value in report.items():
            print(f"{key:>18}: {value}")
        print("OK: line is up" if healthy else "FAULT: line is not healthy (see state, faults, last_error)")
    return 0 if healthy else 1


def _pick(config: configuration.Config, wanted: str) -> configuration.LineConfig:
    for index, line in enumerate(config.lines):
        if wanted in (str(index), line.name):
            return line
    names = ", ".join(f"{i} ({line.name})" for i, line in enumerate(config.lines)) or "none configured"
    raise configuration.ConfigError(f"line {wanted!r}: no such line; lines: {names}")


async def _bring_up(appliance: Appliance, line_config: configuration.LineConfig, timeout: float,
                    call_timeout: float | None = None) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    line = make_line(line_config, AsyncioScheduler(loop), appliance, loop.call_soon_threadsafe)
    line.attach(_ignore_calls)
    line.start()
    try:
        report = await loop.run_in_executor(None, _report, line, line_config, timeout)
        if call_timeout is not None:
            report["audio_check"] = await loop.run_in_executor(None, _audio_check, line, report, call_timeout)
        return report
    finally:
        line.close()


def _report(line: Line, line_config: configuration.LineConfig, timeout: float) -> dict[str, Any]:
    base: dict[str, Any] = {"line": line_config.name, "kind": line_config.kind}
    if isinstance(line, (GsmLine, V253Line)):
        line.wait_state(("up", "down"), timeout)
        return base | line.report()
    if isinstance(line, SipLine):
        up = line.ready.wait(timeout)
        host, port = line.address
        return base | {"state": "up" if up else "down", "address": f"{host}:{port}",
                       "workers": len(line.worker_pids())} | line.stats()
    return base | {"state": "up"}


def _audio_check(line: Line, report: dict[str, Any], call_timeout: float) -> dict[str, Any]:
    if not isinstance(line, GsmLine):
        return {"available": False, "why": f"not available for {report.get('kind')} lines in this build"}
    if report.get("state") != "up":
        return {"available": False, "why": "the line is not up"}
    if line.pcm_stream is not None:
        print(f"Call the line now (within {call_timeout:.0f} s): you hear a 1 kHz tone for a second; press any key "
              "when you hear it.", file=sys.stderr, flush=True)
    return line.audio_check(call_timeout)


def _ignore_calls(event: LineEvent) -> None:
    """A line under test takes no calls; the far end hears nothing and gives up."""
