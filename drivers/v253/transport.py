"""The thin shell around pyserial: open a port by path or URL (exclusively), read what is there, write it all.

`serial_for_url` gives `socket://host:port` (a stick behind ser2net) and `spy://PATH` (pyserial's wire trace:
every byte, audio and keys included, unmasked, on stderr; a bench tool, never for production logs) for free.
"""
from __future__ import annotations

import termios

import serial

from drivers.serialmodem import port as shared

from . import V253Error

WRITE_TIMEOUT_S = 2.0


class PortLost(V253Error):
    """The port cannot be opened, read or written: unplugged, re-enumerating, or a vanished pty."""


def open_port(url: str, baudrate: int, timeout: float) -> serial.SerialBase:
    return shared.open_port(url, baudrate, timeout, write_timeout=WRITE_TIMEOUT_S, lost=PortLost)


def read_some(port: serial.SerialBase) -> bytes:
    """Wait up to the port's timeout for one byte, then take whatever else is there."""
    return shared.read_some(port, lost=PortLost, errors=(serial.SerialException, OSError, termios.error))


def write_all(port: serial.SerialBase, data: bytes) -> None:
    try:
        port.write(data)
    except (serial.SerialException, OSError, termios.error) as exc:
        raise PortLost(f"write failed: {exc}") from exc
