"""The command engine: one AT command in flight, per-command timeouts, bounded retries, URCs never swallowed.

Sans-I/O apart from two injected callables: `write` (bytes to the modem) and `clock` (seconds, monotonic). The
owner feeds it codec events and calls `poll()` often; replies arrive through each command's `done` callback, URCs
through `on_urc`, both on the owner's thread. A URC that arrives while a command waits is delivered at once,
unless the command declared it as its own reply (`+CLCC:` answering `AT+CLCC`).
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .codec import AtEvent, Echo, Final, Info, Noise, Prompt, Urc

log = logging.getLogger(__name__)
wire = logging.getLogger("drivers.gsm.wire")


@dataclass(frozen=True)
class Command:
    text: str
    timeout_s: float = 3.0
    retries: int = 0  # resent this many times after a timeout: only for commands that are safe to repeat
    response: str | None = None  # prefix of its reply line when that prefix is also a URC ("+CLIP:" for AT+CLIP?)
    payload: bytes | None = None  # raw bytes sent when the modem prompts (CONNECT or '>')
    payload_end: bytes = b""  # appended to the payload (Ctrl-Z ends an SMS)
    ends_on: tuple[str, ...] = ()  # URCs that end this command as failed (NO CARRIER for ATA); still delivered
    shown: str | None = None  # what the wire log shows instead of the text (a PIN, a phone number)


@dataclass(frozen=True)
class Reply:
    command: Command
    status: str  # "ok", "error", "timeout" or "aborted"
    lines: tuple[str, ...] = ()
    final: Final | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        what = self.final.text if self.final is not None else self.status
        return f"{self.command.shown or self.command.text}: {what}"


Done = Callable[[Reply], None]


class _InFlight:
    def __init__(self, command: Command, done: Done | None) -> None:
        self.command = command
        self.done = done
        self.attempts = 0
        self.deadline = 0.0
        self.lines: list[str] = []
        self.payload_sent = False
        self.batch = -1  # the feed batch during which it was sent: that batch's lines predate it


class CommandEngine:
    def __init__(
        self,
        name: str,
        write: Callable[[bytes], None],
        on_urc: Callable[[Urc], None],
        clock: Callable[[], float],
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._name = name
        self._write = write
        self._on_urc = on_urc
        self._clock = clock
        self._redact = redact
        self._queue: deque[_InFlight] = deque()
        self._current: _InFlight | None = None
        self._batch = 0
        self._feeding = False

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    @property
    def pending(self) -> int:
        return len(self._queue) + (self._current is not None)

    def submit(self, command: Command, done: Done | None = None) -> None:
        self._queue.append(_InFlight(command, done))
        if self._current is None:
            self._next()

    def feed(self, events: list[AtEvent]) -> None:
        """Events of one read, in order. A command sent while they are handled cannot be answered by them."""
        self._batch += 1
        self._feeding = True
        try:
            for event in events:
                self._handle(event)
        finally:
            self._feeding = False

    def poll(self) -> None:
        """Time out or resend the command in flight."""
        current = self._current
        if current is None or self._clock() < current.deadline:
            return
        if current.attempts <= current.command.retries:
            log.info("%s: no reply to %s, sending it again", self._name, self._shown(current.command))
            self._send(current)
        else:
            log.warning("%s: no reply to %s within %.1f s", self._name, self._shown(current.command),
                        current.command.timeout_s)
            self._complete(current, Reply(current.command, "timeout", tuple(current.lines)))

    def abort(self, reason: str) -> None:
        """Fail the command in flight and everything queued (the port is gone or the modem is being reset)."""
        waiting = ([self._current] if self._current is not None else []) + list(self._queue)
        self._current = None
        self._queue.clear()
        if waiting:
            log.info("%s: %d command(s) dropped: %s", self._name, len(waiting), reason)
        for item in waiting:
            if item.done is not None:
                item.done(Reply(item.command, "aborted", tuple(item.lines)))

    # -- inside ----------------------------------------------------------------------------------------------------
    def _handle(self, event: AtEvent) -> None:
        current = self._current
        if current is not None and current.batch == self._batch:
            current = None  # sent after these bytes were read: they are not its reply
        if isinstance(event, Noise):
            log.warning("%s: %d byte(s) of line noise skipped", self._name, len(event.data))
            wire.debug("%s <~ %r", self._name, event.data[:64])
            return
        if isinstance(event, Echo):
            wire.debug("%s <= (echo) %s", self._name, self._redact(event.text))
            return
        wire.debug("%s <- %s", self._name, self._redact(_text(event)))
        if isinstance(event, Urc):
            self._urc(event, current)
        elif current is None:
            if isinstance(event, Info):
                self._on_urc(Urc("", event.text))  # an unsolicited line no table knows: the owner logs it
            else:
                log.info("%s: stray %s with no command waiting (a late reply?)", self._name, _text(event))
        elif isinstance(event, Info):
            current.lines.append(event.text)
        elif isinstance(event, Prompt):
            self._prompted(current, event)
        elif isinstance(event, Final):
            self._complete(current, Reply(current.command, "ok" if event.ok else "error", tuple(current.lines), event))

    def _urc(self, urc: Urc, current: _InFlight | None) -> None:
        if current is not None and current.command.response and urc.text.startswith(current.command.response):
            current.lines.append(urc.text)
            return
        ends = current is not None and any(urc.text.startswith(p) for p in current.command.ends_on)
        self._on_urc(urc)
        if ends and current is not None and current is self._current:
            self._complete(current, Reply(current.command, "error", tuple(current.lines), Final("error", urc.text)))

    def _prompted(self, current: _InFlight, prompt: Prompt) -> None:
        command = current.command
        if command.payload is None or current.payload_sent:
            log.warning("%s: unexpected %s prompt during %s", self._name, prompt.kind, self._shown(command))
            return
        current.payload_sent = True
        wire.debug("%s -> [%d bytes of data]", self._name, len(command.payload))
        self._write(command.payload + command.payload_end)
        current.deadline = self._clock() + command.timeout_s

    def _next(self) -> None:
        while self._current is None and self._queue:
            self._current = self._queue.popleft()
            self._send(self._current)

    def _send(self, item: _InFlight) -> None:
        item.attempts += 1
        item.lines.clear()
        item.payload_sent = False
        item.batch = self._batch if self._feeding else -1
        item.deadline = self._clock() + item.command.timeout_s
        wire.debug("%s -> %s", self._name, self._shown(item.command))
        self._write(item.command.text.encode("ascii") + b"\r")

    def _complete(self, item: _InFlight, reply: Reply) -> None:
        if self._current is item:
            self._current = None
        if reply.status == "error":
            log.debug("%s: %s", self._name, self._redact(reply.describe()))
        try:
            if item.done is not None:
                item.done(reply)
        finally:
            self._next()

    def _shown(self, command: Command) -> str:
        return command.shown or self._redact(command.text)


def _text(event: AtEvent) -> str:
    if isinstance(event, Prompt):
        return event.kind
    if isinstance(event, Noise):
        return repr(event.data)
    return event.text
