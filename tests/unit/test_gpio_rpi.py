"""RpiPins' mapping onto the RPi.GPIO module, against a recording stand-in for that module (RPi.GPIO cannot be
imported off a Pi): BCM mode, active-low outputs inverted, pull-up buttons read pressed as True, library errors
become GpioError, and no module at all is a clear error (never a silent switch to simulated pins)."""
from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from drivers.gpio import GpioError


class FakeGpio(types.ModuleType):
    BCM, OUT, IN, HIGH, LOW, PUD_UP, PUD_DOWN = "BCM", "OUT", "IN", 1, 0, "UP", "DOWN"

    def __init__(self) -> None:
        super().__init__("RPi.GPIO")
        self.calls: list[tuple[Any, ...]] = []
        self.levels: dict[int, int] = {}

    def setwarnings(self, on: bool) -> None: ...

    def setmode(self, mode: str) -> None:
        self.calls.append(("mode", mode))

    def setup(self, pin: int, direction: str, **options: Any) -> None:
        if pin == 21:
            raise RuntimeError("No access to /dev/mem")
        self.calls.append(("setup", pin, direction, options))

    def output(self, pin: int, level: int) -> None:
        self.calls.append(("output", pin, level))

    def input(self, pin: int) -> int:
        return self.levels.get(pin, 1)

    def cleanup(self) -> None:
        self.calls.append(("cleanup",))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeGpio:
    module = FakeGpio()
    package = types.ModuleType("RPi")
    package.GPIO = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "RPi", package)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", module)
    return module


def test_outputs_inputs_and_cleanup(fake: FakeGpio) -> None:
    from drivers.gpio_rpi import RpiPins

    pins = RpiPins()
    pins.output(5)
    pins.output(17, active_low=True)
    pins.write(5, True)
    pins.write(17, True)
    pins.input(26, pull_up=True)
    fake.levels[26] = 0  # the button pulls the pin to ground
    assert pins.read(26) is True
    fake.levels[26] = 1
    assert pins.read(26) is False
    pins.close()
    assert fake.calls[0] == ("mode", "BCM")
    assert ("setup", 5, "OUT", {"initial": 0}) in fake.calls and ("setup", 17, "OUT", {"initial": 1}) in fake.calls
    assert ("output", 5, 1) in fake.calls and ("output", 17, 0) in fake.calls  # active low: pressed = low
    assert fake.calls[-3:] == [("output", 5, 0), ("output", 17, 1), ("cleanup",)]


def test_library_errors_are_gpio_errors(fake: FakeGpio) -> None:
    from drivers.gpio_rpi import RpiPins

    with pytest.raises(GpioError, match="No access to /dev/mem"):
        RpiPins().output(21)


def test_no_rpi_gpio_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)
    from drivers.gpio_rpi import RpiPins

    with pytest.raises(GpioError, match="rpi-lgpio"):
        RpiPins()
