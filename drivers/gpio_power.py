"""A modem's power key and reset line on GPIO: the last rung of the GSM recovery ladder (`power_cycle`).

Both lines are driven through a transistor, so the logical True of our pin means "key pressed" or "held in
reset". With a reset line the cycle is one pulse on it; otherwise the power key is pressed once to turn the
modem off, and again after `off_wait_s` to turn it on (EC25 / SIM7600 PWRKEY: ≥ 0.5 s on, ≥ 0.65 s off).
Called on the line's own thread; it blocks for the whole sequence, never on the daemon's loop.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .gpio import Pins

log = logging.getLogger(__name__)


class ModemPower:
    def __init__(self, name: str, pins: Pins, *, power_pin: int | None, reset_pin: int | None,
                 key_s: float = 0.6, off_wait_s: float = 5.0, reset_s: float = 0.3,
                 sleep: Callable[[float], object] | None = None) -> None:
        if power_pin is None and reset_pin is None:
            raise ValueError("a modem power control needs a power key or a reset pin")
        self._name = name
        self._pins = pins
        self._power = power_pin
        self._reset = reset_pin
        self._key_s, self._off_wait_s, self._reset_s = key_s, off_wait_s, reset_s
        self._sleep = sleep or threading.Event().wait
        self.cycles = 0
        for pin in (power_pin, reset_pin):
            if pin is not None:
                pins.output(pin)

    def power_cycle(self) -> None:
        self.cycles += 1
        if self._reset is not None:
            log.warning("%s: pulsing the modem's reset line (GPIO%d)", self._name, self._reset)
            self._pulse(self._reset, self._reset_s)
            return
        assert self._power is not None
        log.warning("%s: power key (GPIO%d): off, then on after %.1f s", self._name, self._power, self._off_wait_s)
        self._pulse(self._power, self._key_s)
        self._sleep(self._off_wait_s)
        self._pulse(self._power, self._key_s)

    def _pulse(self, pin: int, seconds: float) -> None:
        self._pins.write(pin, True)
        try:
            self._sleep(seconds)
        finally:
            self._pins.write(pin, False)
