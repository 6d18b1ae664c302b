"""The console's serial port as a terminal: open (and reopen) by URL, write text, read edited lines with a timeout.

A port that fails (adapter unplugged, tty gone) raises `LinePortLost`; the session logs out and `open()` waits for
the port to come back.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import serial

from .lineeditor import Cancelled, Entry, LineEditor
from .ymodem_port import PORT_ERRORS, LinePortLost

log = logging.getLogger(__name__)

READ_POLL_S = 0.2
WRITE_TIMEOUT_S = 5.0
REOPEN_EVERY_S = 1.0
MAX_PENDING = 4096  # type-ahead kept for the next prompt; a flood beyond it is dropped


class Terminal:
    def __init__(self, url: str, baudrate: int = 115200, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.baudrate = baudrate
        self.editor = LineEditor()
        self._clock = clock
        self._port: serial.SerialBase | None = None
        self._reported_missing = False
        self._pending = b""  # typed ahead of the next prompt (a pasted batch of commands)

    @property
    def port(self) -> serial.SerialBase:
        if self._port is None:
            raise LinePortLost(f"{self.url} is not open")
        return self._port

    def open(self, stop: threading.Event) -> bool:
        """Open the port, retrying every second until it is there; False when `stop` was set first."""
        while not stop.is_set():
            try:
                self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=READ_POLL_S,
                                                   write_timeout=WRITE_TIMEOUT_S, exclusive=True)
                self._reported_missing = False
                log.info("console on %s at %d baud", self.url, self.baudrate)
                self._port.reset_input_buffer()
                return True
            except PORT_ERRORS as exc:
                if not self._reported_missing:
                    log.warning("console port %s not available (%s); retrying every %.0f s", self.url, exc,
                                REOPEN_EVERY_S)
                    self._reported_missing = True
                stop.wait(REOPEN_EVERY_S)
        return False

    def close(self) -> None:
        self._pending = b""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except PORT_ERRORS as exc:
                log.debug("closing %s: %s", self.url, exc)

    def write(self, text: str) -> None:
        """Text with "\\n" line ends, sent as CRLF in UTF-8."""
        self.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))

    def write_bytes(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except PORT_ERRORS as exc:  # SerialTimeoutException too: nobody drains the line
            raise LinePortLost(f"write to {self.url} failed: {exc}") from exc

    def discard_typeahead(self) -> None:
        """Forget what was typed before a question was shown, so that an answer is a reply to it."""
        self._pending = b""
        try:
            self.port.reset_input_buffer()
        except PORT_ERRORS as exc:
            raise LinePortLost(f"{self.url} failed: {exc}") from exc

    def drain_input(self, quiet_s: float = 0.3) -> None:
        """Drop whatever the far end still sends (a transfer's trailing bytes) until it is quiet."""
        try:
            port = self.port
            saved, port.timeout = port.timeout, quiet_s
            self._pending = b""
            try:
                while port.read(4096):
                    pass
            finally:
                port.timeout = saved
        except PORT_ERRORS as exc:
            raise LinePortLost(f"read from {self.url} failed: {exc}") from exc

    def read_entry(self, prompt: str, *, timeout_s: float, secret: bool = False,
                   stop: threading.Event | None = None) -> Entry | None:
        """Show `prompt` and return the next edited line, Ctrl-C or overflow; None after `timeout_s` of silence."""
        self.editor.reset(secret=secret)
        self.write(prompt)
        last = self._clock()
        while stop is None or not stop.is_set():
            data, self._pending = self._pending, b""
            if not data:
                data = self._read()
            now = self._clock()
            if not data:
                if now - last >= timeout_s:
                    return None
                continue
            last = now
            entry = self._edit(data)
            if entry is not None:
                return entry
        return Cancelled()

    def _read(self) -> bytes:
        try:
            data = self.port.read(1)
            if data and self.port.in_waiting:
                data += self.port.read(self.port.in_waiting)
            return bytes(data)
        except PORT_ERRORS as exc:
            raise LinePortLost(f"read from {self.url} failed: {exc}") from exc

    def _edit(self, data: bytes) -> Entry | None:
        """Feed bytes up to the first finished line; what was typed after it waits for the next prompt."""
        echo = bytearray()
        for i in range(len(data)):
            shown, entries = self.editor.feed(data[i:i + 1])
            echo += shown
            if entries:
                self._pending = data[i + 1:][:MAX_PENDING]
                self.write_bytes(bytes(echo))
                return entries[0]
        if echo:
            self.write_bytes(bytes(echo))
        return None
