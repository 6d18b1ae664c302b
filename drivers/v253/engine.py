"""The command engine: one command in flight, per-command timeouts, bounded retries, unsolicited lines never
swallowed. A data state (`AT+VTX`/`VRX`/`VTR`) is a command whose answer is CONNECT; its end is a command too,
sent as raw DLE bytes and answered by OK, so the engine never writes an AT command into audio.

Sans-I/O apart from two injected callables, `write` and `clock`. Audio, shielded events and stream ends pass
through to `on_stream` in arrival order; RING and caller-ID lines go to `on_line` even while a command waits.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.serialmodem.privacy import redact
from drivers.serialmodem.engine import CommandQueue, InFlight

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


_InFlight = InFlight[Command, Reply]


class CommandEngine(CommandQueue[Command, Reply, Event]):
    log = log
    wire = wire

    def __init__(
        self,
        name: str,
        write: Callable[[bytes], None],
        codec: V253Codec,
        on_line: Callable[[str], None],
        on_stream: Callable[[Shielded | Audio | StreamEnd], None],
        clock: Callable[[], float],
    ) -> None:
        super().__init__(name, write, clock)
        self._codec = codec
        self._on_line = on_line
        self._on_stream = on_stream
        self.noise_bytes = 0

    # -- inside ----------------------------------------------------------------------------------------------------
    def _handle(self, event: Event) -> None:
        if isinstance(event, (Shielded, Audio, StreamEnd)):
            self._on_stream(event)
            return
        current = self._in_reply()
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

    def _reply(self, command: Command, status: str, lines: tuple[str, ...]) -> Reply:
        return Reply(command, status, lines)

    def _described(self, reply: Reply) -> str:
        return reply.describe()

    def _sending(self, item: _InFlight) -> None:
        self._codec.audio_on_connect = item.command.receive

    def _encode(self, command: Command) -> bytes:
        return command.raw if command.raw is not None else command.text.encode("ascii") + b"\r"
