"""A line editor for dumb serial terminals (picocom, minicom): bytes in, echo bytes and finished lines out.

Backspace arrives as BS (0x08) or DEL (0x7F) and both erase; a line ends with CR, LF or CRLF; Ctrl-C abandons the
line, Ctrl-U erases it; escape sequences (arrow keys, function keys) and any other control or non-ASCII byte are
dropped; a line longer than `max_len` is refused as a whole instead of growing without bound.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

BS, DEL, CR, LF, ESC, CTRL_C, CTRL_U, BELL = 0x08, 0x7F, 0x0D, 0x0A, 0x1B, 0x03, 0x15, 0x07
MAX_LINE = 256


@dataclass(frozen=True)
class Line:
    text: str


@dataclass(frozen=True)
class Cancelled:
    """Ctrl-C: the line is dropped; the caller shows a fresh prompt (or abandons a question)."""


@dataclass(frozen=True)
class TooLong:
    limit: int


Entry = Line | Cancelled | TooLong


class _Esc(enum.Enum):
    NONE = 0
    START = 1  # after ESC
    CSI = 2  # after ESC [ : parameters until a final byte 0x40-0x7E
    SS3 = 3  # after ESC O : one more byte


class LineEditor:
    def __init__(self, max_len: int = MAX_LINE) -> None:
        self.max_len = max_len
        self.secret = False  # echo '*' instead of the characters (PIN entry)
        self._chars: list[str] = []
        self._overflow = False
        self._after_cr = False
        self._esc = _Esc.NONE

    def reset(self, *, secret: bool = False) -> None:
        self._chars, self._overflow, self._esc = [], False, _Esc.NONE
        self.secret = secret

    def feed(self, data: bytes) -> tuple[bytes, list[Entry]]:
        echo = bytearray()
        entries: list[Entry] = []
        for byte in data:
            if self._escape(byte):
                continue
            after_cr, self._after_cr = self._after_cr, byte == CR
            if byte in (CR, LF):
                if byte == LF and after_cr:
                    continue  # the LF of CRLF
                echo += b"\r\n"
                entries.append(TooLong(self.max_len) if self._overflow else Line("".join(self._chars)))
                self.reset(secret=self.secret)
            elif byte in (BS, DEL):
                if self._chars:
                    self._chars.pop()
                    echo += b"\b \b"
            elif byte == CTRL_C:
                echo += b"^C\r\n"
                entries.append(Cancelled())
                self.reset(secret=self.secret)
            elif byte == CTRL_U:
                echo += b"\b \b" * len(self._chars)
                self._chars, self._overflow = [], False
            elif 0x20 <= byte < 0x7F:
                if len(self._chars) >= self.max_len:
                    if not self._overflow:
                        echo.append(BELL)
                    self._overflow = True
                    continue
                self._chars.append(chr(byte))
                echo += b"*" if self.secret else bytes([byte])
        return bytes(echo), entries

    def _escape(self, byte: int) -> bool:
        """True when `byte` belongs to an escape sequence (and is swallowed)."""
        if self._esc is _Esc.NONE:
            if byte == ESC:
                self._esc = _Esc.START
                return True
            return False
        if byte in (CR, LF, CTRL_C):
            self._esc = _Esc.NONE
            return False  # a broken sequence must not eat the end of the line
        if self._esc is _Esc.START:
            self._esc = {ord("["): _Esc.CSI, ord("O"): _Esc.SS3}.get(byte, _Esc.NONE)
        elif self._esc is _Esc.SS3 or 0x40 <= byte <= 0x7E:
            self._esc = _Esc.NONE
        return True
