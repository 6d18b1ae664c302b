"""One open connection to the stick: port, codec and engine, driven from the line's thread only.

`pump()` reads what is there (up to the poll timeout), feeds it through codec and engine and times commands out.
`run()` is the synchronous form used by bring-up: it pumps until its reply, so RING and caller ID keep flowing
while it waits; a timeout raises `ModemUnresponsive`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from drivers.serialmodem.port import cancel_wait, close_quietly

from . import V253Error
from .codec import Audio, Shielded, StreamEnd, V253Codec
from .engine import Command, CommandEngine, Done, Reply
from .transport import open_port, read_some, write_all

log = logging.getLogger(__name__)


class ModemUnresponsive(V253Error):
    """No reply in time (or the modem cannot be made to answer at all)."""


class Stopping(V253Error):
    """The line is closing: a long bring-up gives up at the next command."""


class ModemSession:
    def __init__(
        self,
        name: str,
        url: str,
        baudrate: int,
        on_line: Callable[[str], None],
        on_stream: Callable[[Shielded | Audio | StreamEnd], None],
        *,
        poll_s: float,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._stop = stop
        self._port = open_port(url, baudrate, timeout=poll_s)
        self.codec = V253Codec()
        self.engine = CommandEngine(name, self.write, self.codec, on_line, on_stream, clock)
        self.closed = False
        self.bytes_in = 0

    def pump(self) -> None:
        data = read_some(self._port)
        if data:
            self.bytes_in += len(data)
            self.engine.feed(self.codec.feed(data))
        self.engine.poll()

    def set_poll(self, seconds: float) -> None:
        """How long a read waits: short in a call (audio pacing), longer when idle (a Pi need not spin)."""
        if self._port.timeout != seconds:
            self._port.timeout = seconds

    def wake(self) -> None:
        """From any thread: end the reader's wait now (a request is queued)."""
        cancel_wait(self._port, self.closed)

    def submit(self, command: Command, done: Done | None = None) -> None:
        self.engine.submit(command, done)

    def write(self, data: bytes) -> None:
        write_all(self._port, data)

    def run(self, command: Command, *, interruptible: bool = True) -> Reply:
        box: list[Reply] = []
        self.engine.submit(command, box.append)
        while not box:
            if interruptible and self._stop.is_set():
                self.engine.abort("the line is closing")
                raise Stopping("the line is closing")
            self.pump()
        reply = box[0]
        if reply.status in ("timeout", "aborted"):
            raise ModemUnresponsive(f"no reply to {reply.describe()}")
        return reply

    def pause(self, seconds: float) -> None:
        """Keep reading (and dropping what is not a reply) for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stop.is_set():
                raise Stopping("the line is closing")
            self.pump()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.engine.abort("port closed")
        close_quietly(self._port, self.url, log)
