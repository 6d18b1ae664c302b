"""On a real Pi with the panel wired as in docs/install-pi.md (opt-in: pytest -m hardware). A person watches:
each LED lights for a second in turn; then the button is read for 5 s (press it once)."""
from __future__ import annotations

import time

import pytest

from drivers.gpio_rpi import RpiPins

pytestmark = pytest.mark.hardware
LEDS = {"power": 5, "line": 6, "call": 13, "fault": 19}
BUTTON = 26


def test_each_led_lights_and_the_button_reads_pressed() -> None:
    pins = RpiPins()
    try:
        for pin in LEDS.values():
            pins.output(pin)
        for name, pin in LEDS.items():
            print(f"LED {name} (GPIO{pin}) on")
            pins.write(pin, True)
            time.sleep(1.0)
            pins.write(pin, False)
        pins.input(BUTTON, pull_up=True)
        deadline, seen = time.monotonic() + 5.0, False
        while time.monotonic() < deadline and not seen:
            seen = pins.read(BUTTON)
            time.sleep(0.02)
        assert seen, "the button was not seen pressed within 5 s"
    finally:
        pins.close()
