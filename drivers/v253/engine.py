"""The command engine: one command in flight, per-command timeouts, bounded retries, unsolicited lines never
swallowed. A data state (`AT+VTX`/`VRX`/`VTR`) is a command whose answer is CONNECT; its end is a command too,
sent as raw DLE bytes and answered by OK, so the engine never writes an AT command into audio.

Sans-I/O apart from two injected callables, `write` and `clock`. Audio, shielded events and stream ends pass
through to `on_stream` in arrival order; RING and caller-ID lines go to `on_line` even while a command waits.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.gsm.privacy import redact

from .callerid import parse_line
from .codec import Audio, Echo, Event, Line, Noise, Result, Shielded, StreamEnd, V253Codec

log = logging.getLogger(__name__)
wire = logging.getLogger("drivers.v253.wire")


@dataclass(frozen=True)
class Command:
    text: str  # the AT command, or what the log calls a raw sequence
    timeout_s: float = 3.0
    retries: int = 0  # resent this many times after a timeout: only for commands safe to repeat
    raw: bytes | None = None  # sent as is instead of `text` + CR (the DLE sequence that ends a data state)
    connect: bool = False  # CONNECT is its answer (AT+VTX, AT+VRX, AT+VTR)
    receive: bool = False  # its CONNECT opens a receive stream: the codec reads audio after it


@dataclass(frozen=True)
class Reply:
    command: Command
    status: str  # "ok", "connect", "error", "timeout" or "aborted"
    lines: tuple[str, ...] = ()
    text: str = ""  # the result line as the modem sent it

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "connect")

    def describe(self) -> str:
        return f"{self.command.text}: {self.text or self.status}"


Done = Callable[[Reply], None]


def is_unsolicited(text: str) -> bool:
    """RING (also `RING 1`, distinctive-ring `DRON=`/`DROF=`) and formatted caller-ID lines."""
    upper = text.upper()
    return upper == "RING" or upper.startswith(("RING ", "DRON", "DROF")) or parse_line(text) is not None


class _InFlight:
    def __init__(self, command: Command, done: Done | None) -> None:
        self.command = command
        self.done = done
        self.attempts = 0
        self.deadline = 0.0
        self.lines: list[str] = []
        self.batch = -1


class CommandEngine:
    def __init__(
        self,
        name: str,
        write: Callable[[bytes], None],
        codec: V253Codec,
        on_line: Callable[[str], None],
        on_stream: Callable[[Shielded | Audio | StreamEnd], None],
        clock: Callable[[], float],
    ) -> None:
        self._name = name
        self._write = write
        self._codec = codec
        self._on_line = on_line
        self._on_stream = on_stream
        self._clock = clock
        self._queue: deque[_InFlight] = deque()
        self._current: _InFlight | None = None
        self._batch = 0
        self._feeding = False
        self.noise_bytes = 0

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    def submit(self, command: Command, done: Done | None = None) -> None:
        self._queue.append(_InFlight(command, done))
        if self._current is None:
            self._next()

    def feed(self, events: list[Event]) -> None:
        """Events of one read, in order. A command sent while they are handled cannot be answered by them."""
        self._batch += 1
        self._feeding = True
        try:
            for event in events:
                self._handle(event)
        finally:
            self._feeding = False

    def poll(self) -> None:
        current = self._current
        if current is None or self._clock() < current.deadline:
            return
        if current.attempts <= current.command.retries:
            log.info("%s: no reply to %s, sending it again", self._name, current.command.text)
            self._send(current)
        else:
            log.warning("%s: no reply to %s within %.1f s", self._name, current.command.text,
                        current.command.timeout_s)
            self._complete(current, Reply(current.command, "timeout", tuple(current.lines)))

    def abort(self, reason: str) -> None:
        """Fail the command in flight and everything queued (the port is gone, the modem is being reset)."""
        waiting = ([self._current] if self._current is not None else []) + list(self._queue)
        self._current = None
        self._queue.clear()
        if waiting:
            log.info("%s: %d command(s) dropped: %s", self._name, len(waiting), reason)
        for item in waiting:
            if item.done is not None:
                item.done(Reply(item.command, "aborted", tuple(item.lines)))

    # -- inside ----------------------------------------------------------------------------------------------------
    def _handle(self, event: Event) -> None:
        if isinstance(event, (Shielded, Audio, StreamEnd)):
            self._on_stream(event)
            return
        current = self._current
        if current is not None and current.batch == self._batch:
            current = None  # sent after these bytes were read: they are not its reply
        if isinstance(event, Noise):
            self.noise_bytes += len(event.data)
            wire.debug("%s <~ %d byte(s) of noise", self._name, len(event.data))
        elif isinstance(event, Echo):
            wire.debug("%s <= (echo) %s", self._name, redact(event.text))
        elif isinstance(event, Line):
            wire.debug("%s <- %s", self._name, redact(event.text))
            if current is None or is_unsolicited(event.text):
                self._on_line(event.text)
            else:
                current.lines.append(event.text)
        else:
            wire.debug("%s <- %s", self._name, event.text)
            self._result(event, current)

    def _result(self, result: Result, current: _InFlight | None) -> None:
        if current is None:
            if result.kind in ("no_carrier", "busy"):
                self._on_line(result.text)  # the line dropped: the call side decides
            else:
                log.debug("%s: stray %s with no command waiting", self._name, result.text)
            return
        if result.ok:
            status = "ok"
        elif result.kind == "connect":
            status = "connect" if current.command.connect else "error"
        else:
            status = "error"
        if result.kind == "connect" and not current.command.connect:
            log.warning("%s: unexpected CONNECT to %s", self._name, current.command.text)
        self._complete(current, Reply(current.command, status, tuple(current.lines), result.text))

    def _next(self) -> None:
        while self._current is None and self._queue:
            self._current = self._queue.popleft()
            self._send(self._current)

    def _send(self, item: _InFlight) -> None:
        item.attempts += 1
        item.lines.clear()
        item.batch = self._batch if self._feeding else -1
        item.deadline = self._clock() + item.command.timeout_s
        self._codec.audio_on_connect = item.command.receive
        wire.debug("%s -> %s", self._name, item.command.text)
        command = item.command
        self._write(command.raw if command.raw is not None else command.text.encode("ascii") + b"\r")

    def _complete(self, item: _InFlight, reply: Reply) -> None:
        if self._current is item:
            self._current = None
        if reply.status == "error":
            log.debug("%s: %s", self._name, reply.describe())
        try:
            if item.done is not None:
                item.done(reply)
        finally:
            self._next()
