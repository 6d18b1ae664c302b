"""`resetline status [--json] [--runtime-dir DIR | --state-dir DIR]`: ask the running daemon how it is, over its
control socket (firmware.control): lines and their state, calls in progress, snapshot, outbox backlog, faults,
last error. Exit 0 when every line is up and no fault is shown, 1 otherwise, 3 when the daemon is not running."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from firmware.control import ControlError, ask, runtime_dir


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("status", help="the running daemon's state (over its control socket)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--runtime-dir", type=Path, help="the daemon's runtime dir (default $RUNTIME_DIRECTORY, "
                        "/run/resetline)")
    parser.add_argument("--state-dir", type=Path, help="a daemon run without a runtime dir: its <state>/run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory = runtime_dir(args.runtime_dir, args.state_dir)
    try:
        status: dict[str, Any] = ask(directory)["status"]
    except ControlError as exc:
        print(f"resetline status: {exc}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
    else:
        print(render(status))
    healthy = all(line["state"] == "up" for line in status["lines"]) and not status["faults"]
    return 0 if healthy else 1


def render(status: dict[str, Any]) -> str:
    out = [f"box {status['box']}: {status['phase']} for {status['uptime_s']:.0f} s"]
    for line in status["lines"]:
        extra = f" (restarts {line['restarts']})" if line["restarts"] else ""
        error = f" — {line['last_error']}" if line["last_error"] and line["state"] != "up" else ""
        out.append(f"  line {line['name']} [{line['kind']}]: {line['state']}{extra}{error}")
    calls = status["calls_in_progress"]
    out.append(f"calls in progress: {len(calls)}")
    out += [f"  {c['line']} {c['call_ref']} {c['state']} {c['seconds']:.0f} s" for c in calls]
    snapshot = status["snapshot"]
    out.append(f"snapshot: {'installed' if snapshot['installed'] else 'NOT INSTALLED'} ({snapshot['path']})")
    backlog = status["outbox_backlog"]
    out.append(f"outbox: {'unknown' if backlog is None else backlog} reset(s) waiting for central")
    if status["journal"]["records_waiting"]:
        out.append(f"journal: {status['journal']['records_waiting']} call record(s) waiting in memory")
    out += [f"FAULT {f['code']}: {f['what']}" for f in status["faults"]] or ["no fault"]
    if status["last_error"]:
        out.append(f"last error: {status['last_error']}")
    return "\n".join(out)
