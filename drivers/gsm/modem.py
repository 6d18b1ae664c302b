"""One open connection to the modem: port, codec and engine, driven from the line's thread only.

`pump()` reads what is there (up to the poll timeout), feeds it through codec and engine and times commands out.
`run()` is the synchronous form used by bring-up and recovery: it pumps until its reply, so URCs keep flowing
while it waits; a timeout raises `ModemUnresponsive`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from drivers.serialmodem.port import cancel_wait, close_quietly

from . import GsmError
from .bringup import ModemUnresponsive
from .codec import AtCodec, Urc, UrcTable
from .engine import Command, CommandEngine, Done, Reply
from drivers.serialmodem.privacy import redact
from .profiles import Profile
from .transport import PortLost, open_port, read_some, write_all

log = logging.getLogger(__name__)


class Stopping(GsmError):
    """The line is closing: a long bring-up or recovery gives up at the next command."""


class ModemSession:
    def __init__(
        self,
        name: str,
        url: str,
        baudrate: int,
        profile: Profile,
        on_urc: Callable[[Urc], None],
        *,
        poll_s: float,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._stop = stop
        self._port = open_port(url, baudrate, timeout=poll_s)
        self._codec = AtCodec(UrcTable(profile.urcs))
        hidden = (profile.dtmf_prefix,)
        self.engine = CommandEngine(name, self._write, on_urc, clock, lambda text: redact(text, hidden))
        self.closed = False

    def pump(self) -> None:
        data = read_some(self._port)
        if data:
            self.engine.feed(self._codec.feed(data))
        self.engine.poll()

    def wake(self) -> None:
        """From any thread: end the reader's wait now (a request is queued)."""
        cancel_wait(self._port, self.closed)

    def submit(self, command: Command, done: Done | None = None) -> None:
        self.engine.submit(command, done)

    def run(self, command: Command, *, interruptible: bool = True, between: Callable[[], None] | None = None) -> Reply:
        box: list[Reply] = []
        self.engine.submit(command, box.append)
        while not box:
            if interruptible and self._stop.is_set():
                self.engine.abort("the line is closing")
                raise Stopping("the line is closing")
            self.pump()
            if between is not None:
                between()
        reply = box[0]
        if reply.status == "timeout":
            raise ModemUnresponsive(f"no reply to {reply.describe()}")
        if reply.status == "aborted":
            raise ModemUnresponsive(f"{reply.describe()}")
        return reply

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.engine.abort("port closed")
        close_quietly(self._port, self.url, log)

    def _write(self, data: bytes) -> None:
        write_all(self._port, data)


__all__ = ["ModemSession", "PortLost", "Stopping"]
