"""GPIO behind one small interface (`Pins`): LEDs, the modem's power key and reset line, the button.

Two back ends, chosen only in the daemon's composition root: `drivers.gpio_rpi.RpiPins` (RPi.GPIO; on a Pi 5 the
`rpi-lgpio` package provides the same module) and `SimulatedPins` here, which records every pin change (product
code: the demo, dry runs and the tests use it; `trace` writes each change as a JSON line for a far side to read).
Pins are BCM numbers. Outputs are logical: True means lit / pressed / asserted; `active_low` pins are inverted
at the back end. Every method may be called from any thread.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from . import DriverError

#: BCM numbers a 40-pin header exposes as general-purpose pins (0 and 1 are the HAT EEPROM's I2C)
USABLE_PINS = range(2, 28)


class GpioError(DriverError):
    """A GPIO back end could not be opened or a pin could not be driven."""


class Pins(Protocol):
    def output(self, pin: int, *, active_low: bool = False) -> None:
        """Make `pin` an output, logically off."""

    def input(self, pin: int, *, pull_up: bool = True) -> None:
        """Make `pin` an input; with `pull_up` a button wires it to ground and reads pressed as True."""

    def write(self, pin: int, on: bool) -> None: ...

    def read(self, pin: int) -> bool:
        """An input's logical state (pressed = True), or an output's last written value."""

    def close(self) -> None:
        """Release every pin (outputs off)."""


@dataclass(frozen=True)
class PinChange:
    at: float  # time.monotonic()
    pin: int
    on: bool


class SimulatedPins:
    """Pins in memory: `changes` lists every output change in order; `press`/`release` drive inputs."""

    def __init__(self, trace: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._outputs: dict[int, bool] = {}
        self._inputs: dict[int, bool] = {}
        self.changes: list[PinChange] = []
        self._trace: IO[str] | None = trace.open("a", encoding="utf-8", buffering=1) if trace else None

    def output(self, pin: int, *, active_low: bool = False) -> None:
        _check(pin)
        with self._lock:
            self._outputs[pin] = False

    def input(self, pin: int, *, pull_up: bool = True) -> None:
        _check(pin)
        with self._lock:
            self._inputs[pin] = False

    def write(self, pin: int, on: bool) -> None:
        with self._lock:
            if pin not in self._outputs:
                raise GpioError(f"GPIO{pin} is not set up as an output")
            if self._outputs[pin] == on:
                return
            self._outputs[pin] = on
            change = PinChange(time.monotonic(), pin, on)
            self.changes.append(change)
            if self._trace is not None:
                try:
                    self._trace.write(json.dumps({"t": round(change.at, 4), "pin": pin, "on": on}) + "\n")
                except OSError as exc:  # the trace is a far side's view; the pin itself has changed
                    raise GpioError(f"GPIO trace: {exc}") from exc

    def read(self, pin: int) -> bool:
        with self._lock:
            if pin in self._inputs:
                return self._inputs[pin]
            if pin in self._outputs:
                return self._outputs[pin]
        raise GpioError(f"GPIO{pin} is not set up")

    def close(self) -> None:
        for pin in list(self._outputs):
            self.write(pin, False)
        with self._lock:
            if self._trace is not None:
                self._trace.close()
                self._trace = None

    # -- the far side (a finger on the button) ---------------------------------------------------------------------
    def press(self, pin: int) -> None:
        self._set_input(pin, True)

    def release(self, pin: int) -> None:
        self._set_input(pin, False)

    def _set_input(self, pin: int, on: bool) -> None:
        with self._lock:
            if pin not in self._inputs:
                raise GpioError(f"GPIO{pin} is not set up as an input")
            self._inputs[pin] = on

    def history(self, pin: int) -> list[bool]:
        """The values written to `pin`, in order."""
        with self._lock:
            return [change.on for change in self.changes if change.pin == pin]


def _check(pin: int) -> None:
    if pin not in USABLE_PINS:
        raise GpioError(f"GPIO{pin} is not a general-purpose pin (BCM {USABLE_PINS.start}–{USABLE_PINS.stop - 1})")
