"""`resetline console --port DEV [--state-dir DIR] [--config FILE]`: serve the technician console on a serial port.

DEV is a device (/dev/ttyUSB0, /dev/ttyAMA0) or any pyserial URL. 115200 8N1 by default. The console runs until
SIGTERM; a port that disappears is waited for and reopened.
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from firmware.config import DEFAULT_STATE_DIR
from firmware.journal import Journal, JournalError

from .auth import Backoff
from .context import ConsoleSettings, Context
from .session import serve
from .terminal import Terminal

DEFAULT_CONFIG = Path("/etc/resetline/box.toml")


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("console", help="the technician console on a serial port", description=__doc__)
    parser.add_argument("--port", required=True, help="serial device or pyserial URL")
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--config", type=Path, default=None,
                        help=f"the box's configuration file (config show/set, line test, sync); e.g. {DEFAULT_CONFIG}")
    parser.add_argument("--idle-timeout", type=float, default=600.0, metavar="S", help="log out after S s idle")
    parser.add_argument("--reboot-command", default="systemctl reboot",
                        help="what `reboot` runs (default: systemctl reboot)")
    parser.set_defaults(func=run, log_level="INFO")  # logins, transfers and their progress belong in the log


def run(args: argparse.Namespace) -> int:
    settings = ConsoleSettings(state_dir=args.state_dir, config_path=args.config, idle_s=args.idle_timeout,
                               reboot_command=tuple(shlex.split(args.reboot_command)))
    try:
        args.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        journal = Journal.open(args.state_dir / "journal.db")
    except (OSError, JournalError) as exc:
        print(f"resetline console: cannot open the state in {args.state_dir}: {exc}", file=sys.stderr)
        return 2
    with journal:
        ctx = Context(Terminal(args.port, args.baudrate), settings, journal,
                      Backoff.from_audit(journal.audit(100), time.time()))

        def stop(signum: int, frame: FrameType | None) -> None:
            ctx.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        serve(ctx)
    return 0
