"""Runs a YMODEM state machine (receiver or sender) over a pyserial port until it is done.

The port's read timeout paces `tick()`. Events go to `on_event`, which may return a reason to cancel (a refused
name, a full disk). A port that fails mid-transfer ends the batch with `Aborted` and raises `LinePortLost`.
"""
from __future__ import annotations

import termios
import time
from collections.abc import Callable
from typing import Protocol

import serial

from . import ConsoleError
from .ymodem_receiver import Aborted, Step

POLL_S = 0.05
PORT_ERRORS = (serial.SerialException, OSError, ValueError, termios.error)  # termios: a tty going away


class LinePortLost(ConsoleError):
    """The serial port went away (cable pulled, adapter unplugged)."""


class Machine(Protocol):
    @property
    def done(self) -> bool: ...

    def start(self, now: float) -> bytes: ...

    def feed(self, data: bytes, now: float) -> Step: ...

    def tick(self, now: float) -> Step: ...

    def cancel(self, reason: str) -> Step: ...


class Wire(Protocol):
    """What the pump needs of a port (pyserial's Serial has it)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    @property
    def in_waiting(self) -> int: ...

    def flush(self) -> None: ...


def pump(port: Wire, machine: Machine, on_event: Callable[[object], str | None], *,
         clock: Callable[[], float] = time.monotonic) -> None:
    """Drive `machine` over `port` until it is done; restores the port's read timeout afterwards."""
    saved = port.timeout
    port.timeout = POLL_S
    try:
        _send(port, machine.start(clock()))
        while not machine.done:
            data = _read(port)
            now = clock()
            step = machine.feed(data, now) if data else machine.tick(now)
            _carry_out(port, machine, step, on_event)
    except PORT_ERRORS as exc:
        if not machine.done:
            on_event(Aborted(f"the serial line was lost: {exc}"))
        raise LinePortLost(f"serial port lost during the transfer: {exc}") from exc
    finally:
        try:
            port.timeout = saved
        except PORT_ERRORS:
            pass


def _carry_out(port: Wire, machine: Machine, step: Step, on_event: Callable[[object], str | None]) -> None:
    _send(port, step.out)
    for event in step.events:
        reason = on_event(event)
        if reason is not None:
            cancelled = machine.cancel(reason)
            _send(port, cancelled.out)
            for final in cancelled.events:
                on_event(final)
            return


def _read(port: Wire) -> bytes:
    data = port.read(1)
    if data:
        waiting = port.in_waiting
        if waiting:
            data += port.read(waiting)
    return bytes(data)


def _send(port: Wire, data: bytes) -> None:
    if data:
        port.write(data)
        port.flush()
