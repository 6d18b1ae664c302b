"""Open, read and wake a pyserial port the way both modem drivers do. Each driver passes its own `PortLost`
(its package's root exception below) and the errors it counts as a lost port."""
from __future__ import annotations

import logging
import termios
from collections.abc import Callable

import serial

Errors = tuple[type[BaseException], ...]
OPEN_ERRORS: Errors = (serial.SerialException, OSError, ValueError, termios.error)  # termios: a tty going away


def open_port(url: str, baudrate: int, timeout: float, *, write_timeout: float,
              lost: Callable[[str], Exception]) -> serial.SerialBase:
    """Open `url` (device path or pyserial URL) exclusively; `lost` is raised when it is not there."""
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=write_timeout,
                                     exclusive=True)
    except OPEN_ERRORS as exc:
        raise lost(f"cannot open {url}: {exc}") from exc


def read_some(port: serial.SerialBase, *, lost: Callable[[str], Exception], errors: Errors) -> bytes:
    """Wait up to the port's timeout for one byte, then take whatever else is there."""
    try:
        data = port.read(1)
        if data:
            waiting = port.in_waiting
            if waiting:
                data += port.read(waiting)
        return bytes(data)
    except errors as exc:
        raise lost(f"read failed: {exc}") from exc


def cancel_wait(port: serial.SerialBase, closed: bool) -> None:
    """From any thread: end the reader's wait now (a request is queued). pyserial's POSIX ports can."""
    cancel = getattr(port, "cancel_read", None)
    if cancel is not None and not closed:
        try:
            cancel()
        except (OSError, ValueError):
            pass


def close_quietly(port: serial.SerialBase, url: str, log: logging.Logger) -> None:
    """Close a port that may already be gone; a failure is only worth a debug line."""
    try:
        port.close()
    except (OSError, ValueError) as exc:
        log.debug("closing %s: %s", url, exc)
