"""The thin shell around pyserial: open a port by path or URL, exclusively; read and write it.

(The USB device behind a tty and its rebind live in `drivers/serialmodem/usb.py`, shared with the V.253 driver.)
`serial_for_url` gives `socket://host:port` (a modem behind ser2net) and `spy://PATH` (pyserial's wire trace:
every byte, unmasked, on stderr; a bench tool, never for production logs) for free. A plain path is a device
node, normally a udev name that stays stable across re-enumeration (systemd/ rules).
"""
from __future__ import annotations

import logging

import serial

from drivers.serialmodem import port as shared

from . import GsmError

log = logging.getLogger(__name__)

WRITE_TIMEOUT_S = 5.0
WRITE_CHUNK = 4096


class PortLost(GsmError):
    """The port cannot be opened, read or written: unplugged, re-enumerating, or a vanished pty."""


def open_port(url: str, baudrate: int, timeout: float) -> serial.SerialBase:
    """Open `url` (device path or pyserial URL) exclusively; PortLost when it is not there."""
    return shared.open_port(url, baudrate, timeout, write_timeout=WRITE_TIMEOUT_S, lost=PortLost)


def write_all(port: serial.SerialBase, data: bytes) -> None:
    """Write in chunks so each chunk has the write timeout (an upload is ~100 kB; a UART moves ~11 kB/s)."""
    try:
        for start in range(0, len(data), WRITE_CHUNK):
            port.write(data[start:start + WRITE_CHUNK])
    except (serial.SerialException, OSError) as exc:
        raise PortLost(f"write failed: {exc}") from exc


def read_some(port: serial.SerialBase) -> bytes:
    """Wait up to the port's timeout for one byte, then take whatever else is there."""
    return shared.read_some(port, lost=PortLost, errors=(serial.SerialException, OSError))
