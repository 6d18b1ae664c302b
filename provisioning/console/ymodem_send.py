"""Send files by YMODEM from this machine: `python -m provisioning.console.ymodem_send --port DEV FILE…`.

For a laptop without lrzsz, for the tests and the bench; progress (percent, rate, time left) goes to stderr.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import serial

from .progress import ProgressMeter
from .ymodem_port import PORT_ERRORS, LinePortLost, pump
from .ymodem_receiver import Aborted
from .ymodem_sender import FileSent, OutgoingFile, Progress, Sender


def send_files(port: serial.SerialBase, paths: Sequence[Path], block_size: int = 1024,
               say: Callable[[str], None] | None = None) -> str | None:
    """Send `paths` in one batch; None on success, else why it failed."""
    files = [OutgoingFile(p.name, p.read_bytes(), int(p.stat().st_mtime)) for p in paths]
    meters: dict[str, ProgressMeter] = {}
    failure: list[str] = []

    def on_event(event: object) -> None:
        now = time.monotonic()
        if isinstance(event, Progress):
            meter = meters.setdefault(event.name, ProgressMeter(event.name, event.size, now))
            line = meter.update(event.sent, now)
            if line and say:
                say(line)
        elif isinstance(event, FileSent) and say:
            say(f"{event.name}: sent")
        elif isinstance(event, Aborted):
            failure.append(event.reason)
        return None

    pump(port, Sender(files, block_size=block_size), on_event)
    return failure[0] if failure else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning.console.ymodem_send", description=__doc__)
    parser.add_argument("--port", required=True, help="serial device or pyserial URL")
    parser.add_argument("--baudrate", type=int, default=115200)
    parser.add_argument("--block", type=int, choices=(128, 1024), default=1024)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        port = serial.serial_for_url(args.port, baudrate=args.baudrate, timeout=0.05)
    except PORT_ERRORS as exc:
        print(f"ymodem_send: cannot open {args.port}: {exc}", file=sys.stderr)
        return 2
    try:
        failure = send_files(port, args.files, args.block, lambda line: print(line, file=sys.stderr))
    except (OSError, LinePortLost) as exc:
        failure = str(exc)
    finally:
        port.close()
    if failure:
        print(f"ymodem_send: failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
