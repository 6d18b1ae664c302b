"""The sans-I/O V.253 codec: the modem's bytes in, result lines, DLE-shielded events and audio out.

Two modes. In command mode the stream is lines (results, replies, RING, caller ID) with `<DLE>x` events
between them (DTMF reports arrive in voice command mode and during `+VTX`). After a `CONNECT` that the owner said
opens a receive stream (`+VRX`, `+VTR`), the bytes are audio: `<DLE><DLE>` is one 0x10 byte, `<DLE><SUB>` two,
`<DLE><ETX>` ends the stream, `<DLE>` with anything else is a shielded event. The "previous byte was DLE" state
survives between reads, so a buffer may split anywhere, even between a DLE and its code (callattendant's
`find()` per chunk missed those). `feed` never raises: what cannot be a line becomes `Noise`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

DLE, ETX, SUB = 0x10, 0x03, 0x1A
CR, LF = 0x0D, 0x0A
#: longest line kept; beyond it the bytes are noise
MAX_LINE = 512
RESULTS = {
    "OK": "ok", "VCON": "vcon", "ERROR": "error", "FCERROR": "error", "NO CARRIER": "no_carrier", "BUSY": "busy",
    "NO DIALTONE": "no_dialtone", "NO DIAL TONE": "no_dialtone", "NO ANSWER": "no_answer",
}
COMMAND, AUDIO = "command", "audio"


@dataclass(frozen=True)
class Result:
    """A result code: `kind` is ok, vcon, error, connect, no_carrier, busy, no_dialtone or no_answer."""

    kind: str
    text: str

    @property
    def ok(self) -> bool:
        return self.kind in ("ok", "vcon")


@dataclass(frozen=True)
class Line:
    """Any other line: a reply (`56000`, `1`), RING, a caller-ID line (`NMBR = 0912345678`)."""

    text: str


@dataclass(frozen=True)
class Echo:
    """A command echoed back (echo is on right after ATZ)."""

    text: str


@dataclass(frozen=True)
class Noise:
    """Bytes that cannot be a line (garbage, an audio tail after a receive was aborted): logged and skipped."""

    data: bytes


@dataclass(frozen=True)
class Shielded:
    """`<DLE>` followed by `code`: a DTMF digit, `b` busy, `d` dial tone, `s`/`q` silence, `l` loop drop, ..."""

    code: str


@dataclass(frozen=True)
class Audio:
    """Received samples, DLE stuffing removed, in the session's sample format."""

    data: bytes


@dataclass(frozen=True)
class StreamEnd:
    """`<DLE><ETX>`: the modem ended a data state."""


Event = Result | Line | Echo | Noise | Shielded | Audio | StreamEnd
AtEvent = Result | Line | Echo | Noise


def stuff(data: bytes) -> bytes:
    """Audio for the modem: every 0x10 doubled."""
    return data.replace(b"\x10", b"\x10\x10")


class V253Codec:
    def __init__(self) -> None:
        self.mode = COMMAND
        #: set by the owner before sending a command whose CONNECT starts a receive stream (+VRX, +VTR)
        self.audio_on_connect = False
        self._line = bytearray()
        self._dle = False
        self._skip_lf = False

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        try:
            pos = 0
            while pos < len(data):
                pos = self._audio(data, pos, events) if self.mode == AUDIO else self._lines(data, pos, events)
        except Exception:  # total by contract: a codec bug must not end a call
            log.exception("V.253 codec failed on %d bytes; state reset", len(data))
            events.append(Noise(bytes(self._line)))
            self.reset()
        return events

    def leave_audio(self) -> None:
        """The owner aborted the receive stream: what follows is lines again (some sticks send no <DLE><ETX>;
        an audio tail still in flight becomes Noise)."""
        self.mode = COMMAND
        self.audio_on_connect = False

    def reset(self) -> None:
        """Forget everything held (the port was re-opened)."""
        self.mode = COMMAND
        self.audio_on_connect = False
        self._line.clear()
        self._dle = False
        self._skip_lf = False

    # -- inside ----------------------------------------------------------------------------------------------------
    def _audio(self, data: bytes, pos: int, events: list[Event]) -> int:
        out = bytearray()
        if self._skip_lf:
            self._skip_lf = False
            if data[pos] == LF:
                pos += 1
        end = len(data)
        while pos < end:
            if self._dle:
                code = data[pos]
                pos += 1
                self._dle = False
                if code == DLE:
                    out.append(DLE)
                elif code == SUB:
                    out += b"\x10\x10"
                else:
                    if out:
                        events.append(Audio(bytes(out)))
                        out.clear()
                    if code == ETX:
                        events.append(StreamEnd())
                        self.mode = COMMAND
                        return pos
                    events.append(Shielded(chr(code)))
                continue
            cut = data.find(b"\x10", pos)
            if cut < 0:
                out += data[pos:]
                pos = end
            else:
                out += data[pos:cut]
                pos = cut + 1
                self._dle = True
        if out:
            events.append(Audio(bytes(out)))
        return pos

    def _lines(self, data: bytes, pos: int, events: list[Event]) -> int:
        end = len(data)
        while pos < end:
            byte = data[pos]
            pos += 1
            if self._skip_lf:
                self._skip_lf = False
                if byte == LF:
                    continue
            if self._dle:
                self._dle = False
                if byte == ETX:
                    events.append(StreamEnd())
                elif byte not in (DLE, SUB):  # a stuffed data byte of an audio tail: dropped
                    events.append(Shielded(chr(byte)))
                continue
            if byte == DLE:
                self._dle = True
            elif byte in (CR, LF):
                self._skip_lf = byte == CR
                if self._end_line(events):
                    return pos
            elif byte != 0:
                self._line.append(byte)
                if len(self._line) > MAX_LINE:
                    events.append(Noise(bytes(self._line)))
                    self._line.clear()
        return pos

    def _end_line(self, events: list[Event]) -> bool:
        """Classify the held line; True when it was the CONNECT that starts a receive stream."""
        line = bytes(self._line)
        self._line.clear()
        if not line.strip(b" \t"):
            return False
        event = classify(line)
        events.append(event)
        if isinstance(event, Result) and event.kind == "connect" and self.audio_on_connect:
            self.mode = AUDIO
            self.audio_on_connect = False
            return True
        return False


def classify(line: bytes) -> AtEvent:
    if not _text_like(line):
        return Noise(line)
    text = line.decode("latin-1").strip()
    upper = text.upper()
    kind = RESULTS.get(upper)
    if kind is not None:
        return Result(kind, text)
    if upper == "CONNECT" or upper.startswith("CONNECT "):
        return Result("connect", text)
    if upper.startswith("+CME ERROR"):
        return Result("error", text)
    if upper.startswith("AT"):
        return Echo(text)
    return Line(text)


def _text_like(line: bytes) -> bool:
    """No control bytes, and an ASCII start: audio and garbage fail, `NAME = Nguyễn` (8-bit) passes."""
    if any((b < 0x20 and b != 0x09) or b == 0x7F for b in line):
        return False
    first = line.lstrip(b" \t")[:1]
    return bool(first) and 0x21 <= first[0] <= 0x7E
