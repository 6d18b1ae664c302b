"""The real GPIO back end: RPi.GPIO on a Raspberry Pi (the `rpi-lgpio` package provides the same module on a
Pi 5, where RPi.GPIO itself cannot reach the RP1 chip). Imported only by the composition root when the
configuration says `[gpio] backend = "rpi"`; a failure is an error, never a silent switch to simulated pins."""
from __future__ import annotations

import threading
from types import ModuleType

from .gpio import GpioError, _check


class RpiPins:
    def __init__(self) -> None:
        try:
            import RPi.GPIO as gpio  # type: ignore[import-not-found,import-untyped,unused-ignore]  # only on the Pi
        except (ImportError, RuntimeError) as exc:  # RuntimeError: not a Pi, or no access to /dev/gpiomem
            raise GpioError(f"RPi.GPIO is not usable here ({exc}); on a Pi 5 install rpi-lgpio, elsewhere use "
                            "[gpio] backend = \"sim\" or \"none\"") from exc
        self._gpio: ModuleType = gpio
        self._lock = threading.Lock()
        self._low: set[int] = set()
        self._pull_up: set[int] = set()
        self._last: dict[int, bool] = {}
        gpio.setwarnings(False)
        gpio.setmode(gpio.BCM)

    def output(self, pin: int, *, active_low: bool = False) -> None:
        _check(pin)
        with self._lock:
            if active_low:
                self._low.add(pin)
            self._call(self._gpio.setup, pin, self._gpio.OUT, initial=self._level(pin, False))
            self._last[pin] = False

    def input(self, pin: int, *, pull_up: bool = True) -> None:
        _check(pin)
        with self._lock:
            pull = self._gpio.PUD_UP if pull_up else self._gpio.PUD_DOWN
            if pull_up:
                self._pull_up.add(pin)
            self._call(self._gpio.setup, pin, self._gpio.IN, pull_up_down=pull)

    def write(self, pin: int, on: bool) -> None:
        with self._lock:
            if self._last.get(pin) == on:
                return
            self._call(self._gpio.output, pin, self._level(pin, on))
            self._last[pin] = on

    def read(self, pin: int) -> bool:
        with self._lock:
            if pin in self._last:
                return self._last[pin]
            level = bool(self._call(self._gpio.input, pin))
            return not level if pin in self._pull_up else level

    def close(self) -> None:
        with self._lock:
            for pin in self._last:
                self._call(self._gpio.output, pin, self._level(pin, False))
            self._call(self._gpio.cleanup)

    def _level(self, pin: int, on: bool) -> int:
        high = on != (pin in self._low)
        return int(self._gpio.HIGH if high else self._gpio.LOW)

    @staticmethod
    def _call(function: object, *args: object, **kwargs: object) -> object:
        try:
            return function(*args, **kwargs)  # type: ignore[operator]
        except (RuntimeError, ValueError) as exc:
            raise GpioError(f"GPIO: {exc}") from exc
