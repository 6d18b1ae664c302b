"""`resetline dial`: the field tester's dialer. Calls a box over SIP, walks the menu, recognises what it says, times it.

`resetline dial --sip sip:reset@HOST:PORT --caller NUM --keys KEYS [--json] [--record FILE.wav]
[--dtmf rfc4733|info|inband] [--repeat N] [--report FILE.html]` places real calls with pjsua2 (one Endpoint, one
call after another), presses the keys by the demo's grammar and timing rule, captures what the box plays and
matches it against the same `voice_prompts/`. Output like `resetline demo`: one line per prompt heard and per key
pressed, then a summary per call; with `--repeat N` a last line with min/median/max of each figure.
docs/dialer.md tells how it works and what it measured.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from drivers import DriverError
from drivers.simcaller import KeyStep, parse_keys
from voice_prompts import PromptError
from voice_prompts.catalog import PromptCatalog

from . import ProvisioningError
from .dial_keys import DemoKeys
from .dial_report import figures, write_report
from .dial_transcript import CallFacts, Transcript, transcribe
from .recognise import Recogniser

DTMF_METHODS = ("rfc4733", "info", "inband")
DEFAULT_LIMIT_S = 120.0  # the box ends every call within its max_call_s (180 s by default) plus a reading


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("dial", help="call a box over SIP, walk the menu, recognise and time what it says",
                            description=__doc__)
    parser.add_argument("--sip", required=True, metavar="URI", help="whom to call, e.g. sip:reset@192.0.2.7:5060")
    parser.add_argument("--caller", required=True, metavar="NUM",
                        help="the number sent in From and P-Asserted-Identity; 'anonymous' = withheld")
    parser.add_argument("--keys", default="", help="keys to press: 0-9 * #, spaces ignored, ',' waits 1 s more "
                        "(the demo's grammar and timing)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--record", type=Path, metavar="FILE.wav",
                        help="keep what the box played (8 kHz mono 16-bit); with --repeat FILE-2.wav, … too")
    parser.add_argument("--dtmf", choices=DTMF_METHODS, default="rfc4733", help="how keys are sent (default rfc4733)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="make N calls; print min/median/max")
    parser.add_argument("--report", type=Path, metavar="FILE.html", help="write an HTML report (table and timeline)")
    parser.add_argument("--barge-in", action="store_true", help="do not wait for prompts to end before a key")
    parser.add_argument("--limit", type=float, default=DEFAULT_LIMIT_S, metavar="SECONDS",
                        help=f"hang up after this long if the box has not (default {DEFAULT_LIMIT_S:g})")
    parser.add_argument("--codec", default="PCMU", help="offer only codecs whose id starts with this (default PCMU; "
                        "PCMA for A-law; '' for pjsua's own list)")
    parser.add_argument("--bind", default="127.0.0.1", help="local address to call from (default 127.0.0.1)")
    parser.add_argument("--rtp-port", type=int, default=47400, help="first local RTP port (default 47400)")
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.repeat < 1:
            raise ProvisioningError("--repeat must be at least 1")
        if not args.sip.startswith(("sip:", "sips:")):
            raise ProvisioningError(f"--sip {args.sip!r}: expected a SIP URI such as sip:reset@192.0.2.7:5060")
        steps = parse_keys(args.keys)
        catalog = PromptCatalog.load()
        recogniser = Recogniser.from_catalog(catalog)
        display = {pid: catalog.text(pid) for pid in catalog.ids()}
        calls = _dial(args, steps, recogniser, display, sys.stdout)
        if args.repeat > 1:
            _emit(sys.stdout, args.json, {"calls": len(calls), **figures(calls)}, _figures_text(figures(calls)))
        if args.report:
            write_report(args.report, calls, title=f"resetline dial {args.sip}")
    except (ProvisioningError, DriverError, PromptError) as exc:
        print(f"resetline dial: {exc}", file=sys.stderr)
        return 2
    return 0 if all(call.summary["answered"] for call in calls) else 1


def _dial(args: argparse.Namespace, steps: list[KeyStep], recogniser: Recogniser, display: dict[str, str],
          out: TextIO) -> list[Transcript]:
    try:
        from drivers.sip.dialer import Dialer  # pjsua2 loads only for this command
    except ImportError as exc:
        raise ProvisioningError(f"pjsua2 is not available ({exc}); see docs/sip.md for the Pi build") from exc
    calls: list[Transcript] = []
    with tempfile.TemporaryDirectory(prefix="resetline-dial-") as tmp:
        dialer = Dialer(Path(tmp), bind=args.bind, transport=args.transport, rtp_port=args.rtp_port,
                        codec=args.codec or None, caller=args.caller)
        try:
            for index in range(args.repeat):
                plan = DemoKeys(steps, barge_in=args.barge_in)
                record = dialer.call(args.sip, plan, dtmf=args.dtmf, limit_s=args.limit)
                if args.record:
                    record.write_wav(_numbered(args.record, index))
                samples = np.frombuffer(record.pcm(), dtype="<i2")
                heard = recogniser.recognise(samples)
                first_frame = record.frames[0][0] - 0.02 if record.frames else record.invited_at
                facts = CallFacts(
                    caller=dialer.caller,
                    answered_s=None if record.answered_at is None else record.answered_at - record.invited_at,
                    ended_s=(record.ended_at or time.monotonic()) - record.invited_at,
                    box_hung_up=record.box_hung_up,
                    keys=[(when - record.invited_at, key) for when, key in record.keys],
                    audio_start_s=first_frame - record.invited_at,
                    status=record.status,
                )
                transcript = transcribe(facts, heard, display)
                transcript.summary["call"] = index + 1
                if plan.keys_left:
                    transcript.summary["keys_not_pressed"] = plan.keys_left
                _print_call(out, args.json, transcript)
                calls.append(transcript)
        finally:
            dialer.close()
    return calls


def _numbered(path: Path, index: int) -> Path:
    return path if index == 0 else path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


def _print_call(out: TextIO, as_json: bool, transcript: Transcript) -> None:
    for event in transcript.events:
        if "key" in event:
            text = f"{event['t']:7.2f}  key  {event['key']}"
        else:
            mark = " (cut)" if event.get("cut") else ""
            text = f"{event['t']:7.2f}  box  {event['text'] or event['say']}{mark}"
        _emit(out, as_json, event, text)
    s = transcript.summary
    text = (f"outcome {s['outcome']} after {s['duration_s']} s (caller {s['caller']}); answered in {s['answer_s']} s; "
            f"last key to verdict {s['verdict_after_key_s']} s")
    if "password_heard" in s:
        text += f"; password heard: {' / '.join(s['password_heard'])} ({'agree' if s['readings_agree'] else 'DIFFER'})"
    _emit(out, as_json, s, text)


def _figures_text(stats: dict[str, Any]) -> str:
    lines = [f"{'figure':22} {'min':>8} {'median':>8} {'max':>8}"]
    for name, value in stats.items():
        if isinstance(value, dict) and "median" in value:
            lines.append(f"{name:22} {value['min']:8.2f} {value['median']:8.2f} {value['max']:8.2f}")
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in stats.get("outcomes", {}).items()))
    return "\n".join(lines)


def _emit(out: TextIO, as_json: bool, record: dict[str, Any], text: str) -> None:
    print(json.dumps(record, ensure_ascii=False) if as_json else text, file=out, flush=True)
