"""`receive`: take files by YMODEM from the terminal program into `<state>/incoming/`."""
from __future__ import annotations

import logging
import time

from .commands import Command, Usage
from .context import Context
from .incoming import IncomingFiles, incoming_dir, sweep_partials
from .progress import human_bytes, human_seconds
from .ymodem_port import LinePortLost, pump
from .ymodem_receiver import Receiver

log = logging.getLogger(__name__)

HOW_TO_SEND = (
    "Start the YMODEM upload now / Bắt đầu gửi tệp bằng YMODEM ngay:\n"
    "  picocom: Ctrl-A Ctrl-S, then the file name (picocom started with --send-cmd \"sb -vv\")\n"
    "  minicom: Ctrl-A S, choose ymodem, pick the file(s)\n"
    "Waiting {wait:.0f} s for the sender… (to give up: Ctrl-X five times, or just wait)")

NEXT_STEP = {".db": "install it with `snapshot install {name}`",
             ".toml": "it waits in incoming/ for an administrator (the live file is changed with `config set`)",
             ".wav": "it waits in incoming/ for an administrator to place it in voice_prompts/recorded/"}


def receive(ctx: Context, args: list[str]) -> None:
    if args:
        raise Usage("receive   (then send the files from the terminal program)")
    folder = incoming_dir(ctx.settings.state_dir)
    for name in sweep_partials(folder, time.time()):
        log.info("removed %s, left by a transfer that never finished (power cut?)", name)
    ctx.say(HOW_TO_SEND.format(wait=ctx.settings.receive.header_wait_s))
    sink = IncomingFiles(folder, time.monotonic)
    receiver = Receiver(ctx.settings.max_upload_bytes, ctx.settings.receive)
    started = time.monotonic()
    try:
        pump(ctx.terminal.port, receiver, sink.handle)
    except LinePortLost:
        for got in sink.received:  # files completed before the cable went are kept, so they are audited
            ctx.audit_quietly("receive", f"{got.name} ({got.size} bytes)")
        ctx.audit_quietly("receive_failed", "the serial port went away during the transfer")
        raise
    finally:
        sink.discard()  # whatever did not complete leaves nothing behind
    ctx.terminal.drain_input()
    ctx.say("")
    for got in sink.received:
        rate = got.size / got.seconds if got.seconds > 0 else 0.0
        ctx.say(f"Received {got.name}: {human_bytes(got.size)} in {human_seconds(got.seconds)} "
                f"({human_bytes(rate)}/s){', replacing the older copy' if got.replaced else ''}. / Đã nhận.")
        ext = "." + got.name.rsplit(".", 1)[-1] if "." in got.name else ""
        if ext in NEXT_STEP:
            ctx.say("  Next: " + NEXT_STEP[ext].format(name=got.name))
        ctx.audit("receive", f"{got.name} ({got.size} bytes)")
    if sink.failure:
        ctx.say(f"Transfer failed: {sink.failure}. The unfinished file was discarded; nothing partial was kept. "
                "Send it again with `receive`. / Truyền tệp thất bại; hãy gửi lại.")
        ctx.audit("receive_failed", sink.failure[:120])
    elif not sink.received:
        ctx.say("No file received. / Không nhận được tệp nào.")
    ctx.say(f"({human_seconds(time.monotonic() - started)} in all)")


COMMANDS = [Command("receive", "receive", "take files by YMODEM into incoming/ (snapshots, recordings, config)",
                    receive)]
