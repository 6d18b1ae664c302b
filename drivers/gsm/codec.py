"""The sans-I/O AT codec: bytes from the modem in, typed events out. No port, no clock, no threads.

Tolerant by design (field failures: an odd URC or a burst of line noise killed calls in other drivers): lines may
arrive split or joined, end in CR, LF or both, carry NULs or echo; anything that cannot be a modem line becomes a
`Noise` event that the engine logs and skips. `feed` never raises.

URCs are recognised from the profile's explicit prefix table, never from "starts with +": replies start with `+`
too (`+CSQ: 20,99`). Whether a URC-looking line answers the pending command is the engine's call.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: longest line kept; beyond it the bytes are noise (a modem line is a few hundred bytes at most)
MAX_LINE = 4096
_FINALS = {"OK": "ok", "ERROR": "error"}
_ERROR_PREFIXES = {"+CME ERROR:": "cme", "+CMS ERROR:": "cms"}


@dataclass(frozen=True)
class Final:
    """A final result code. `kind` is "ok", "error", "cme" or "cms"; `code` is the numeric CME/CMS error."""

    kind: str
    text: str
    code: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


@dataclass(frozen=True)
class Info:
    """An information line (a reply line, or an unsolicited line no profile knows)."""

    text: str


@dataclass(frozen=True)
class Urc:
    """A line starting with one of the profile's URC prefixes; `prefix` is the table entry it matched."""

    prefix: str
    text: str

    @property
    def value(self) -> str:
        """What follows the prefix, stripped: `+QTONEDET: 56` → `56`."""
        return self.text[len(self.prefix):].strip()


@dataclass(frozen=True)
class Prompt:
    """The modem waits for raw data: `CONNECT` (Quectel uploads) or `>` (SMS text, SIMCom uploads)."""

    kind: str


@dataclass(frozen=True)
class Echo:
    """A command echoed back (echo on, e.g. right after a reset)."""

    text: str


@dataclass(frozen=True)
class Noise:
    """Bytes that cannot be a modem line (garbage, binary, an endless line): logged and skipped."""

    data: bytes


AtEvent = Final | Info | Urc | Prompt | Echo | Noise


class UrcTable:
    """A profile's URC prefixes. An entry ending in ':' matches any line starting with it; any other entry
    matches the whole line, or the line followed by a space (`RING`, `NO CARRIER`, `Call Ready`)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(sorted(set(entries), key=len, reverse=True))  # longest match wins

    def match(self, text: str) -> str | None:
        for entry in self.entries:
            if entry.endswith(":"):
                if text.startswith(entry):
                    return entry
            elif text == entry or text.startswith(entry + " "):
                return entry
        return None


class AtCodec:
    """Splits the modem's byte stream into events; keeps at most one partial line between calls to `feed`."""

    def __init__(self, urcs: UrcTable) -> None:
        self._urcs = urcs
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[AtEvent]:
        events: list[AtEvent] = []
        try:
            self._buffer += data.replace(b"\x00", b"")
            while True:
                cut = _first_separator(self._buffer)
                if cut < 0:
                    break
                line = bytes(self._buffer[:cut])
                del self._buffer[: cut + 1]
                if line.strip(b" \t"):
                    events.append(self._classify(line))
            events.extend(self._partial())
        except Exception:  # total by contract: a codec bug must not end a call; drop what we hold and go on
            log.exception("AT codec failed on %d bytes; buffer dropped", len(data))
            events.append(Noise(bytes(self._buffer)))
            self._buffer.clear()
        return events

    def reset(self) -> None:
        """Forget any partial line (after the port was re-opened)."""
        self._buffer.clear()

    def _partial(self) -> list[AtEvent]:
        """The `>` prompt comes without a line end; an over-long partial line is noise."""
        held = bytes(self._buffer).strip(b" \t")
        if held == b">":
            self._buffer.clear()
            return [Prompt(">")]
        if len(self._buffer) > MAX_LINE:
            noise = Noise(bytes(self._buffer))
            self._buffer.clear()
            return [noise]
        return []

    def _classify(self, line: bytes) -> AtEvent:
        if len(line) > MAX_LINE or not _text_like(line):
            return Noise(line)
        text = line.decode("latin-1").strip()  # 8-bit only inside a field (a phonebook name in +CLIP)
        if text in _FINALS:
            return Final(_FINALS[text], text)
        for prefix, kind in _ERROR_PREFIXES.items():
            if text.startswith(prefix):
                value = text[len(prefix):].strip()
                return Final(kind, text, int(value) if value.isdigit() else None)
        if text == "CONNECT" or text.startswith("CONNECT "):
            return Prompt("CONNECT")
        if text == ">":
            return Prompt(">")
        if text[:2].upper() == "AT":
            return Echo(text)
        urc = self._urcs.match(text)
        if urc is not None:
            return Urc(urc, text)
        return Info(text)


def _text_like(line: bytes) -> bool:
    """No control bytes, and an ASCII start: garbage bursts fail, `+CLIP: "…",129,,,"Nguyễn"` passes."""
    if any((b < 0x20 and b != 0x09) or b == 0x7F for b in line):
        return False
    first = line.lstrip(b" \t")[:1]
    return bool(first) and 0x21 <= first[0] <= 0x7E


def _first_separator(buffer: bytearray) -> int:
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)
