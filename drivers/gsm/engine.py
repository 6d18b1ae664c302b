"""The command engine: one AT command in flight, per-command timeouts, bounded retries, URCs never swallowed.

Sans-I/O apart from two injected callables: `write` (bytes to the modem) and `clock` (seconds, monotonic). The
owner feeds it codec events and calls `poll()` often; replies arrive through each command's `done` callback, URCs
through `on_urc`, both on the owner's thread. A URC that arrives while a command waits is delivered at once,
unless the command declared it as its own reply (`+CLCC:` answering `AT+CLCC`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.serialmodem.engine import CommandQueue, InFlight

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


_InFlight = InFlight[Command, Reply]


class CommandEngine(CommandQueue[Command, Reply, AtEvent]):
    log = log
    wire = wire

    def __init__(
        self,
        name: str,
        write: Callable[[bytes], None],
        on_urc: Callable[[Urc], None],
        clock: Callable[[], float],
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        super().__init__(name, write, clock)
        self._on_urc = on_urc
        self._redact = redact

    @property
    def pending(self) -> int:
        return len(self._queue) + (self._current is not None)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _handle(self, event: AtEvent) -> None:
        current = self._in_reply()
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

    def _reply(self, command: Command, status: str, lines: tuple[str, ...]) -> Reply:
        return Reply(command, status, lines)

    def _described(self, reply: Reply) -> str:
        return self._redact(reply.describe())

    def _shown(self, command: Command) -> str:
        return command.shown or self._redact(command.text)


def _text(event: AtEvent) -> str:
    if isinstance(event, Prompt):
        return event.kind
    if isinstance(event, Noise):
        return repr(event.data)
    return event.text
